"""tests/integration/test_connectors_flows.py, on the three-node Apache Kafka cluster."""

from tests.integration.test_connectors_flows import *  # noqa: F403  (its fixtures: crm, erp, kafka)
from tests.integration.test_connectors_flows import (  # noqa: F401  (its __all__ names only the fixtures)
    codecs,
    test_crm_sink_writes_products_with_price_list_items_dead_letters_and_retries,
    test_erp_sink_contact_persons_and_quotations_wait_for_customers,
    test_erp_source_full_snapshot_then_changes_deletes_and_restart_without_resending,
)
