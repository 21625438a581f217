"""Sources and sinks: the edges of p2c that talk HTTP to the CRM (Dataverse) and the ERP (FinOps).

base/       the contracts: Source, Sink, change events, positions
core/       what every connector shares: HTTP (auth, paging, error table, retry, $batch), runners, metrics
dataverse/  the CRM source (change tracking) and its stream declarations
finops/     the ERP sink ($batch upserts with version guard) and its target declarations
cli.py      ``p2c source run`` and ``p2c sink run``
"""
