"""tests/e2e (every flow end to end through `p2c up`, with the kill test), on the three-node Apache Kafka cluster.

One module, so one `p2c up` (module-scoped ``p2c_up`` of this tier's conftest) serves every test here.
"""

from tests.e2e.test_accounts_flow import *  # noqa: F403
from tests.e2e.test_all_flows import *  # noqa: F403
