"""tests/e2e (every flow end to end through `p2c up`), on the three-node Apache Kafka cluster; after the streams
modules (its seeded load would be their backlog), before the faults.

One module, so one `p2c up` (module-scoped ``p2c_up`` of this tier's conftest) serves every test here. The
e2e kill test (5,000 accounts, sink and worker SIGKILLed) is left to the embedded tier: on this cluster,
test_faults.py kills a broker and adds and removes workers and sinks under load instead.
"""

from tests.e2e.test_accounts_flow import (  # noqa: F401
    test_an_account_created_changed_and_deleted_in_the_crm,
    test_an_account_that_cannot_be_mapped_is_dead_lettered_and_the_flow_goes_on,
    test_every_seeded_account_is_a_customer_in_the_erp,
    test_status_counts_the_accounts_in_and_written,
)
from tests.e2e.test_all_flows import *  # noqa: F403
