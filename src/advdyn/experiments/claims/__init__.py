"""One experiment per claim of SPEC §4 (L4.1, L4.3, L4.4, L4.5, T3.1, C3.1, T5.1).

:data:`CLAIMS` maps a claim id to its module (``Config``, ``QUICK``, ``compute``)."""

CLAIMS = {"L4.1": "advdyn.experiments.claims.l41", "L4.3": "advdyn.experiments.claims.l43",
          "L4.4": "advdyn.experiments.claims.l44", "L4.5": "advdyn.experiments.claims.l45",
          "T3.1": "advdyn.experiments.claims.t31", "C3.1": "advdyn.experiments.claims.c31",
          "T5.1": "advdyn.experiments.claims.t51"}
