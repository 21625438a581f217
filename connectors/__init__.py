"""Sources and sinks: the edges of p2c that talk HTTP to the CRM (Dataverse) and the ERP (FinOps).

base/       the contracts: Source, Sink, change events, positions
core/       what every connector shares: HTTP (auth, paging, error table, retry, $batch), runners, metrics
dataverse/  the CRM source (change tracking, stream declarations) and the products sink (price-list items)
finops/     the ERP sink (targets: customers, contact persons, quotations; versions kept on p2c's side;
            dependency holds; FinOps's 500s isolated) and the ERP source (product snapshots, diffed)
launch.py   wiring of settings, clients and runners for each connector
cli.py      ``p2c source run crm|erp`` and ``p2c sink run erp|crm``
"""
