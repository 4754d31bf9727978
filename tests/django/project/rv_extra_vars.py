"""A module named in REMOTEVARS_MODULES (not an app's variables.py): discovery must import it."""

from __future__ import annotations

import remotevars

extra_flag = remotevars.var('extra_flag', default=False, description='Declared outside any app.')
