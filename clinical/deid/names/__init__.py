"""Person names: reading a name from a position, the word classes around names, the name gazetteer
(and its build), name edges, one type per person, kinship terms, and propagation of what was found."""
