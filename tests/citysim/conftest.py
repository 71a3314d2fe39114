from citysim.testing import citysim, citysim_db  # noqa: F401  (fixtures)
