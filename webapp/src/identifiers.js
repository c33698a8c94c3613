/**
 * Check digits of patient identifiers, as clinical/identifiers.py checks them: a mistyped RUT
 * attaches a discharge summary to the wrong patient, so the form says so before anything is sent.
 * Messages never repeat the value (it is patient data).
 */
const RUT = /^(\d{1,3}(?:\.?\d{3}){0,2})-?([\dkK])$/;
const CURP = new RegExp(
  '^[A-Z][AEIOUX][A-Z]{2}\\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\\d|3[01])[HMX]'
  + '(?:AS|BC|BS|CC|CL|CM|CS|CH|DF|DG|GT|GR|HG|JC|MC|MN|MS|NT|NL|OC|PL|QT|QR|SP|SL|SR|TC|TS|TL|VZ|YN|ZS|NE)'
  + '[B-DF-HJ-NP-TV-Z]{3}[0-9A-Z]\\d$',
);
const CURP_ALPHABET = '0123456789ABCDEFGHIJKLMNÑOPQRSTUVWXYZ';
const DNI_LETTERS = 'TRWAGMYFPDXBNJZSQVHLCKE';

export function rutCheckDigit(body) {
  let total = 0;
  [...body].reverse().forEach((d, i) => { total += Number(d) * (2 + (i % 6)); });
  const rest = 11 - (total % 11);
  return rest === 11 ? '0' : rest === 10 ? 'K' : String(rest);
}

export function curpCheckDigit(first17) {
  let total = 0;
  [...first17].forEach((c, i) => { total += CURP_ALPHABET.indexOf(c) * (18 - i); });
  return String((10 - (total % 10)) % 10);
}

export function luhnCheckDigit(digits) {
  let total = 0;
  [...digits].reverse().forEach((d, i) => {
    const n = Number(d) * (i % 2 === 0 ? 2 : 1);
    total += n > 9 ? n - 9 : n;
  });
  return String((10 - (total % 10)) % 10);
}

/** null when ``value`` is a valid identifier of ``kind``, else what is wrong with it (in Spanish). */
export function checkIdentifier(kind, raw) {
  const value = String(raw ?? '').trim().toUpperCase();
  if (kind === 'RUT') {
    const m = value.match(RUT);
    if (!m) return 'Formato de RUT: dígitos, guion y dígito verificador (ej. 12.345.678-5).';
    if (rutCheckDigit(m[1].replaceAll('.', '')) !== m[2].toUpperCase()) {
      return 'El dígito verificador del RUT no coincide: revise el documento del paciente.';
    }
  } else if (kind === 'CURP') {
    if (!CURP.test(value)) return 'Formato de CURP: 18 caracteres (4 letras, fecha AAMMDD, sexo, estado, 3 consonantes, 2 verificadores).';
    if (curpCheckDigit(value.slice(0, 17)) !== value[17]) return 'El dígito verificador de la CURP no coincide.';
  } else if (kind === 'NSS') {
    if (!/^\d{11}$/.test(value)) return 'El NSS tiene 11 dígitos.';
    if (luhnCheckDigit(value.slice(0, 10)) !== value[10]) return 'El dígito verificador del NSS no coincide.';
  } else if (kind === 'DNI') {
    if (!/^\d{8}[A-Z]$/.test(value)) return 'Formato de DNI: 8 dígitos y una letra.';
    if (DNI_LETTERS[Number(value.slice(0, 8)) % 23] !== value[8]) return 'La letra del DNI no corresponde al número.';
  } else if (kind === 'NIE') {
    if (!/^[XYZ]\d{7}[A-Z]$/.test(value)) return 'Formato de NIE: X, Y o Z, 7 dígitos y una letra.';
    const number = 'XYZ'.indexOf(value[0]) * 10_000_000 + Number(value.slice(1, 8));
    if (DNI_LETTERS[number % 23] !== value[8]) return 'La letra del NIE no corresponde al número.';
  }
  return null;
}
