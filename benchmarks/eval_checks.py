"""How much of what goes wrong in a draft the record review catches, per kind of error (`make eval-checks`).

Drafts: the template writer's draft of each shipped example and of synthetic stays from
`training.data` (Chilean and Mexican, children and adults). Each draft is edited one error at a time
(`clinical.checks.mutations`: another name, sex, age or identifier; a dose, frequency, duration or
route on one drug; a code; a diagnosis added or dropped; a drug added or dropped; an allergy denied;
a date moved or made impossible; the stay's length; the condition or destination; a lab value; a
vital sign; a follow-up date) and reviewed. Printed: the catch rate per kind, the false alarms on the
unedited drafts (template and varied faithful narratives), and the share of fact spans traced.

    python -m benchmarks.eval_checks [--stays 300] [--seed 1] [--target 0.95]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections import Counter

from clinical.checks import check_draft
from clinical.checks.mutations import KINDS, mutations
from clinical.contract import GOLDEN_TODAY, example_records
from clinical.record import HospitalStay
from clinical.writer import render_epicrisis
from training.data.narratives import reference_epicrisis
from training.data.synthetic import generate_stay


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.eval_checks", description=__doc__.splitlines()[0])
    parser.add_argument("--stays", type=int, default=300, help="synthetic stays besides the shipped examples")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--target", type=float, default=0.95, help="catch rate every kind must reach")
    args = parser.parse_args(argv)

    rng = random.Random(args.seed)
    stays = [HospitalStay.model_validate(r, context={"today": GOLDEN_TODAY}) for r in example_records().values()]
    stays += [generate_stay(random.Random(f"{args.seed}-{i}")) for i in range(args.stays)]
    total, caught = Counter(), Counter()
    alarms = {"template": 0, "narrative": 0}
    traced = facts = 0
    started = time.perf_counter()
    for i, stay in enumerate(stays):
        text = render_epicrisis(stay)
        report = check_draft(stay, text)
        alarms["template"] += not report.ok
        traced += sum(f.traced for f in report.facts)
        facts += len(report.facts)
        alarms["narrative"] += not check_draft(stay, reference_epicrisis(stay, random.Random(i))).ok
        for mutation in mutations(stay, text, rng):
            total[mutation.kind] += 1
            caught[mutation.kind] += not check_draft(stay, mutation.text).ok
    seconds = time.perf_counter() - started

    print(f"record review: {len(stays)} stays ({len(example_records())} examples + {args.stays} synthetic), "
          f"seed {args.seed}, {seconds:.1f} s")
    print(f"{'edit kind':<20} {'caught':>8} {'edits':>6} {'rate':>7}")
    below = []
    for kind in KINDS:
        rate = caught[kind] / total[kind] if total[kind] else float("nan")
        print(f"{kind:<20} {caught[kind]:>8} {total[kind]:>6} {rate:>7.3f}")
        if total[kind] and rate < args.target:
            below.append(kind)
    all_caught, all_total = sum(caught.values()), sum(total.values())
    print(f"{'all kinds':<20} {all_caught:>8} {all_total:>6} {all_caught / all_total:>7.3f}")
    print(f"false alarms on unedited drafts: template {alarms['template']}/{len(stays)}, "
          f"varied narratives {alarms['narrative']}/{len(stays)}")
    print(f"fact spans traced to a record field (template drafts): {traced}/{facts} = {traced / max(facts, 1):.4f}")
    if below or any(alarms.values()):
        print(f"below the {args.target:.0%} target: {', '.join(below) or 'none'}; false alarms: "
              f"{sum(alarms.values())}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
