"""The doctor's instruction during transport (online medical control): the crew asks
before a specified procedure, an MC doctor on duty for the unit answers."""
