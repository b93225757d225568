"""The pipeline's steps for one model and one day, one module per stage and named as its assets are: `log`,
`guards`, `bins`, `features`, `profiles`, `drift`, `performance`, and the `expectations` check. Each step reads
and writes Delta through `io.catalog` and `io.delta` and calls the pure `core` functions; the Dagster assets and
the CLI both call these, and neither knows the other.
"""
