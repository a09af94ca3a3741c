"""The pipeline's stages, in the order `nbrepro.check` runs them.

source -> scan -> spec -> resolve -> (build: `nbrepro.isolation`) -> execute ->
(compare: `nbrepro.compare`) -> verdict

Each stage returns plain results (`nbrepro.model`) and never raises for a problem
of the audited repository.
"""
