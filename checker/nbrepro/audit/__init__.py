"""`nbrepro audit`: check many repositories with the one `check` pipeline, on this
machine or a Dask cluster, and report the published study's funnel.

sources (lists, GitHub search, PubMed Central) -> database (the audit and its
repositories) -> executors (local pool or Dask, one task function: tasks) -> runner
(resumable; one writer) -> funnel -> render (table, Markdown, CSV, JSON, HTML with
figures).
"""
