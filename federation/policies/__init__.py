"""The incoming-content policy pipeline (Pleroma's MRF, Kith's way): `pipeline.screen` runs the
built-in domain-block step and the admin's policies (`kinds.KINDS`, one module per kind or
family) on every incoming activity; `admin.py` is what the admin API and CLI change;
`nodeinfo.py` what NodeInfo publishes."""
