"""Word classes for finding person names: particles, kinship terms, and capitalised non-names.

A capitalised word in Spanish clinical text is a name, a sentence start, a heading, a drug, a
service or an institution. The name recognisers decide with the classes below, all compared in
:func:`fold` form (lowercase, no accents), so "ÁLVAREZ", "Alvarez" and "Álvarez" are one word:

- ``PARTICLES`` may sit between the words of a name ("María de los Ángeles", "Pérez y Soto");
- ``KINSHIP`` words name a relative ("madre", "hermana"): never a name themselves;
- ``NOT_NAMES`` are words that are capitalised in clinical text for other reasons (headings,
  services, verbs at a sentence start, identifier labels, months) and end a name where they start;
  the drug lexicon and the medical glossary are added to them;
- ``ORGANISATION_WORDS`` start the names of hospitals, streets and institutions, which are often
  named after people ("Hospital Dr. Sótero del Río", "Calle Miguel Benítez 90"): a person name
  inside one of those is left to the recogniser of that kind;
- ``PLACE_WORDS`` are big towns and countries, never part of a person's name.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache, lru_cache

__all__ = [
    "KINSHIP",
    "KINSHIP_SURNAMES",
    "NOT_NAMES",
    "ORGANISATION_WORDS",
    "PARTICLES",
    "PERSON_TOO",
    "PLACE_WORDS",
    "fold",
    "is_not_name",
    "not_names",
]


@lru_cache(maxsize=100_000)
def fold(word: str) -> str:
    """``word`` lowercased without accents (``Ñ`` kept): the key every word list is compared by."""
    decomposed = unicodedata.normalize("NFD", word.lower().replace("ñ", "\0"))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).replace("\0", "ñ")


def _words(block: str) -> frozenset[str]:
    return frozenset(fold(w) for w in block.split())


PARTICLES = _words("de del la las los y e da das do dos di van von der el al ben ibn abu")

# Kinship words that are also common surnames ("Aguilar Nieto").
KINSHIP_SURNAMES = _words("nieto pareja")

KINSHIP = _words("""
    madre padre padres progenitor progenitora progenitores hijo hija hijos hijas esposo esposa esposos marido
    mujer conyuge pareja novio novia hermano hermana hermanos hermanas tio tia tios tias abuelo
    abuela abuelos abuelas nieto nieta nietos nietas bisabuelo bisabuela sobrino sobrina sobrinos primo prima
    primos cuñado cuñada cuñados suegro suegra suegros yerno nuera padrastro madrastra hijastro hijastra
    familia familiar familiares pariente parientes tutor tutora tutores apoderado apoderada cuidador cuidadora
    acompañante gemelo gemela mama papa
""")

# Capitalised in clinical text for reasons other than being a name. Kept to words that are not
# common given names or surnames (no "Rosa", "Luz", "Fuentes", "Campos", "Vega" here).
NOT_NAMES = _words("""
    paciente pacientes usuario usuaria enfermo enferma varon hombre niño niña lactante neonato recien nacido
    nacida adulto adulta anciano anciana menor mayor senor señor señora señorita sr sra srta don doña
    doctor doctora dr dra medico medica enfermera enfermero matrona matron tratante residente interno interna
    cirujano anestesiologo especialista kinesiologo psicologo nutricionista tecnologo tens profesional
    responsable clinico clinica hospital hospitales servicio servicios unidad sala cama box policlinico
    consultorio cesfam cecosf sapu sar urgencia urgencias emergencia emergencias uci uti uce upc pabellon
    quirofano medicina interna cirugia general pediatria neonatologia ginecologia obstetricia traumatologia
    ortopedia cardiologia neurologia neurocirugia nefrologia urologia oncologia hematologia gastroenterologia
    endocrinologia neumologia broncopulmonar psiquiatria dermatologia oftalmologia otorrinolaringologia
    reumatologia infectologia geriatria radiologia imagenologia laboratorio anatomia patologica fisica
    rehabilitacion kinesiologia nutricion farmacia dental odontologia maxilofacial cuidados intensivos
    intermedios paliativos institucional instituto nacional regional provincial universitario universidad
    centro salud familiar seguro social mexicano imss issste fonasa isapre minsal ssa dif pemex sedena
    calle avenida av avda pasaje camino carretera ruta plaza paseo colonia col comuna region municipio
    estado provincia ciudad domicilio direccion telefono fono celular correo email fax
    nombre nombres apellido apellidos edad sexo fecha fechas rut run curp rfc nss nhc dni nie nif nass cip
    ficha folio expediente episodio registro cedula numero codigo id identificacion afiliacion
    diagnostico diagnosticos antecedentes antecedente historia anamnesis examen examenes fisico evolucion
    tratamiento tratamientos indicaciones indicacion plan manejo motivo consulta ingreso egreso alta altas
    epicrisis resumen informe nota notas procedimiento procedimientos hallazgos conclusion conclusiones
    comentario comentarios observaciones control controles seguimiento interconsulta derivacion traslado
    dieta reposo regimen medicamentos farmacos alergias habitos cirugias hospitalizaciones vacunas
    signos vitales presion arterial frecuencia cardiaca respiratoria temperatura saturacion peso talla imc
    laboratorio hemograma glucosa glicemia creatinina sodio potasio hemoglobina leucocitos plaquetas pcr
    radiografia tomografia ecografia resonancia electrocardiograma ecocardiograma biopsia cultivo
    torax abdomen cabeza cuello extremidades neurologico cardiovascular pulmonar cardiaco renal hepatico
    insuficiencia sindrome enfermedad infeccion neumonia diabetes hipertension cancer tumor fractura dolor
    cefalea fiebre disnea tos vomitos diarrea sangrado shock sepsis
    se el la los las un una unos unas lo al del con sin por para en de desde hasta hacia entre sobre bajo
    que quien cual como cuando donde porque pero sino y o ni no si ya mas muy tambien ademas luego
    su sus mi mis tu este esta estos estas ese esa eso aquel aquella es son fue fueron era ha han hay
    se le les nos ante tras segun durante mediante
    refiere refieren presenta presentan ingresa ingreso acude consulta niega niegan relata describe
    indica indican solicita solicitan realiza realizan inicia continua mantiene evoluciona evolucion
    destaca destacan muestra muestran recibe reciben requiere requieren paso pasa queda quedan
    actualmente posteriormente previamente hoy ayer mañana tarde noche dia dias semana semanas mes meses
    año años hora horas minutos
    lunes martes miercoles jueves viernes sabado enero febrero marzo mayo junio
    agosto septiembre setiembre octubre noviembre diciembre
    derecho derecha izquierdo izquierda bilateral anterior posterior superior inferior normal normales
    positivo negativo leve moderado moderada severo severa grave agudo aguda cronico cronica
    total parcial primario primaria secundario secundaria tipo grado estadio escala score
    firma sello atentamente saludos cordialmente datos personales generales asistenciales
    tel tfno movil ext mg ml kg dl cc ui abajo apartado correos departament departamento grupo seccion jefe jefa area
    prof profa profesor profesora presentamos presentan individuo gestante primigesta multipara puerpera
    adolescente joven soltero soltera casado casada viudo viuda divorciado divorciada masculino femenino
    masa
""")

# First words of organisations and streets that are often named after a person.
ORGANISATION_WORDS = _words("""
    hospital hospitales clinica clinicas sanatorio policlinico consultorio cesfam cecosf centro instituto
    fundacion universidad facultad escuela colegio liceo jardin asociacion sociedad servicio unidad
    laboratorio farmacia residencia hogar parroquia iglesia capilla cementerio estadio parque teatro museo
    calle avenida av avda pasaje psje camino carretera ctra ruta plaza pza paseo pso ronda via calzada
    boulevard blvd bulevar circunvalacion glorieta travesia urbanizacion urb colonia col poblacion villa
    barrio sector condominio edificio torre block depto departamento apartado carrer rua avinguda passeig
    programa premio beca catedra catedratico fondo san santa santo virgen nuestra ntra
    departament seccion complejo consorcio
""")

# Organisation words that are also common surnames or given names.
PERSON_TOO = frozenset({"villa", "torre", "iglesia", "fondo", "parque", "ruta", "plaza", "barrio"})

# Big towns, regions and countries: never the rest of a name ("Ignacio Navarro Cuéllar Madrid"),
# never in the gazetteer. Towns that are common surnames too ("Toledo", "León") are not here.
PLACE_WORDS = _words("""
    madrid barcelona sevilla zaragoza malaga murcia bilbao alicante valladolid vigo gijon
    granada burgos salamanca segovia galicia asturias cantabria
    cataluña andalucia extremadura aragon canarias baleares españa mexico chile argentina peru colombia
    ecuador bolivia uruguay paraguay venezuela cuba guatemala honduras panama nicaragua
    valparaiso temuco antofagasta iquique arica rancagua talca chillan osorno
    puebla monterrey guadalajara tijuana oaxaca chiapas veracruz yucatan merida queretaro toluca morelia
    sonora sinaloa jalisco michoacan tabasco campeche durango zacatecas tlaxcala colima
    nayarit coahuila tamaulipas aguascalientes cdmx df
""")


@cache
def not_names() -> frozenset[str]:
    """``NOT_NAMES`` plus every single word of the drug lexicon and the medical glossary.

    A drug or a medical term written with a capital ("Paracetamol", "Metformina", "Glasgow") is
    not a person. Loaded once, on first use.
    """
    from clinical.glossary import load_glossary
    from clinical.lexicon import load_lexicon

    words = set(NOT_NAMES)
    for drug in load_lexicon():
        for name in (drug.canonical, *drug.variants):
            words.update(fold(w) for w in re.findall(r"[^\W\d_]{3,}", name))
    for entry in load_glossary():
        words.update(fold(w) for w in re.findall(r"[^\W\d_]{3,}", entry.es))
    return frozenset(words)


def is_not_name(word: str, names: frozenset[str] = frozenset()) -> bool:
    """Whether a capitalised ``word`` is, in clinical text, something other than a person's name.

    ``names`` (folded gazetteer words) wins over the glossary and lexicon words, never over
    ``NOT_NAMES`` itself, which holds no common name.
    """
    key = fold(word)
    if key in KINSHIP:
        return key not in KINSHIP_SURNAMES or key not in names
    if key in NOT_NAMES or (key in ORGANISATION_WORDS and key not in PERSON_TOO):
        return True
    return key in not_names() and key not in names
