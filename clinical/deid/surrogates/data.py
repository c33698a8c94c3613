"""Small lists of invented but realistic values for surrogate PHI (Chile, Mexico, Spain).

Written by hand for Alta. Hospital and institution names are fictional; people's names are
common given names and surnames, so no combination points to a real person more than chance.
"""

from __future__ import annotations

GIVEN_NAMES = (
    "Ana", "María", "Camila", "Valentina", "Sofía", "Isabel", "Lucía", "Fernanda", "Daniela", "Paula",
    "Carmen", "Rosa", "Gabriela", "Javiera", "Ximena", "Guadalupe", "Elena", "Teresa", "Natalia", "Pilar",
    "José", "Juan", "Luis", "Carlos", "Jorge", "Miguel", "Pedro", "Andrés", "Francisco", "Diego",
    "Matías", "Sebastián", "Alejandro", "Ricardo", "Manuel", "Rodrigo", "Felipe", "Javier", "Tomás", "Raúl",
)

SURNAMES = (
    "González", "Muñoz", "Rojas", "Díaz", "Pérez", "Soto", "Contreras", "Silva", "Martínez", "Sepúlveda",
    "Morales", "Rodríguez", "López", "Fuentes", "Hernández", "Torres", "Araya", "Flores", "Espinoza",
    "Valenzuela", "Castillo", "Ramírez", "Reyes", "Gutiérrez", "Castro", "Vargas", "Álvarez", "Vásquez",
    "Tapia", "Fernández", "Sánchez", "Cortés", "Gómez", "Herrera", "Núñez", "Jara", "Vergara", "Rivera",
    "Cruz", "Ortiz", "Mendoza", "Ruiz", "Navarro", "Ramos", "Medina", "Aguilar", "Vega", "Campos",
)

STREETS = (
    "Calle Los Aromos", "Avenida Las Acacias", "Pasaje El Roble", "Calle Mirador del Valle", "Avenida Central",
    "Calle Sauce Llorón", "Calle de los Almendros", "Avenida del Parque", "Calle Los Alerces",
    "Calzada de las Flores", "Calle Nogal", "Avenida Río Claro", "Calle Las Camelias", "Paseo de la Ribera",
    "Calle Jacarandá", "Avenida Los Cerezos", "Camino Viejo", "Calle Laurel", "Calle Olivo", "Avenida Sur",
)

CITIES = (
    "Valparaíso", "Concepción", "Temuco", "Rancagua", "Talca", "Antofagasta", "La Serena", "Osorno",
    "Guadalajara", "Monterrey", "Puebla", "Querétaro", "Mérida", "Toluca", "Morelia", "Oaxaca",
    "Valladolid", "Zaragoza", "Córdoba", "Murcia", "Salamanca", "Granada", "Vigo", "Santander",
)

COUNTRIES = (
    "Chile", "México", "España", "Argentina", "Perú", "Colombia", "Ecuador", "Uruguay", "Bolivia",
    "Paraguay", "Venezuela", "Guatemala", "Cuba", "Costa Rica", "Panamá",
)

HOSPITALS = (
    "Hospital San Rafael del Valle", "Hospital Regional Los Andes", "Hospital General del Norte",
    "Clínica Santa Inés", "Hospital Universitario del Sur", "Hospital Clínico Las Palmas",
    "Hospital de la Costa", "Clínica del Pilar", "Hospital Provincial San Gabriel",
    "Hospital Comunitario El Carmen", "Hospital Metropolitano Oriente", "Hospital Virgen del Mar",
)

INSTITUTIONS = (
    "Universidad del Pacífico", "Instituto de Medicina Tropical del Sur", "Fundación Salud Andina",
    "Laboratorio Central de Referencia", "Residencia Los Olivos", "Colegio San Martín",
    "Centro de Salud Familiar Las Rosas", "Centro de Salud El Bosque", "Cruz Verde Asistencial",
)

PROFESSIONS = (
    "profesor", "enfermera", "agricultor", "comerciante", "conductor", "carpintero", "contadora",
    "ingeniero", "cocinera", "electricista", "administrativa", "pescador", "estudiante", "albañil",
)

EMAIL_DOMAINS = ("correo.example", "mail.example", "salud.example", "hospital.example")

MONTHS = (
    "enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre", "octubre",
    "noviembre", "diciembre",
)

# Two-letter codes of Mexican states, as they appear in a CURP.
CURP_STATES = (
    "AS", "BC", "BS", "CC", "CL", "CM", "CS", "CH", "DF", "DG", "GT", "GR", "HG", "JC", "MC", "MN",
    "MS", "NT", "NL", "OC", "PL", "QT", "QR", "SP", "SL", "SR", "TC", "TS", "TL", "VZ", "YN", "ZS",
)
