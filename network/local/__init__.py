"""Local networks on one machine: the launcher behind `network up`, the local etcd cluster, and the
test fixtures (`careledger.network.local.testing` and the pytest plugin)."""
