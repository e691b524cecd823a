"""The replica gRPC bind rewrite (pure parts; the graph test tests/graph/test_secure_head.py checks
the listeners of a real Serve app)."""

from serve_app.graph.loopback_grpc import WILDCARD, loopback_address, loopback_binder


def test_only_loopback_node_ips_get_a_loopback_address():
    assert loopback_address("127.0.0.1") == "127.0.0.1:0"
    assert loopback_address("127.0.1.1") == "127.0.1.1:0"
    assert loopback_address("::1") == "[::1]:0"
    for other in ("10.0.0.5", "0.0.0.0", "::", "192.168.1.2", "not-an-ip", ""):
        assert loopback_address(other) is None


def test_binder_rewrites_only_the_wildcard_and_is_marked():
    calls = []

    def add_port(server, address):
        calls.append((server, address))
        return 4321

    bind = loopback_binder(add_port, "127.0.0.1:0")
    assert bind("srv", WILDCARD) == 4321
    assert bind("srv", "10.0.0.5:9000") == 4321
    assert calls == [("srv", "127.0.0.1:0"), ("srv", "10.0.0.5:9000")]
    assert bind._tier_router_loopback_address == "127.0.0.1:0"
