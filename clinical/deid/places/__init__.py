"""Places and organisations: the town/region/country gazetteers (and their build) and the fixes for
hospital, institution and health-centre spans."""
