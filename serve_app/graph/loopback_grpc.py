"""Keep every Serve replica's inter-deployment gRPC server on loopback when the Ray node is.

Ray 2.60 starts a gRPC server in each Serve replica (for handle calls made over gRPC,
`handle.options(_by_reference=False)`; by default, `RAY_SERVE_USE_GRPC_BY_DEFAULT=0`, handles use
Ray actor calls and never touch it) and binds it to `[::]:0`, hard-coded in
`ray.serve._private.replica` (`_on_initialized`): every interface, even on a node whose IP is
127.0.0.1. Callers reach it at `<node IP>:<port>` (`ray.serve._private.request_router.
replica_wrapper`), so on a loopback node binding it to the node's own address loses nothing.

Ray has no setting for that address, and `runtime_env.worker_process_setup_hook` is applied only
to the driver's job-level runtime_env (`ray._private.worker` uploads it in `ray.init`; nothing does
for an actor's or a deployment's runtime_env), so it cannot run code in replicas. Instead each of
our deployment classes (ingress, router, tiers) calls `bind_replica_grpc_to_loopback()` in its
constructor: Serve runs the constructor in the replica's process before `_on_initialized`, which
looks `add_port_to_grpc_server` up in its module at call time. This patches a private Ray symbol;
when Ray no longer has it, nothing changes and the log says so.
"""

import ipaddress
import logging
from typing import Any, Callable, Optional

logger = logging.getLogger("ray.serve")

WILDCARD = "[::]:0"
_MARK = "_tier_router_loopback_address"


def loopback_address(node_ip: str) -> Optional[str]:
    """`127.0.0.1:0` / `[::1]:0` for a loopback node IP; None for any other address."""
    try:
        address = ipaddress.ip_address(node_ip)
    except ValueError:
        return None
    if not address.is_loopback:
        return None
    return f"[{address}]:0" if address.version == 6 else f"{address}:0"


def loopback_binder(original: Callable[[Any, str], int], address: str) -> Callable[[Any, str], int]:
    """`original` (Ray's `add_port_to_grpc_server(server, address)`, TLS-aware) with the wildcard
    address replaced by `address`; any other address passes through unchanged."""

    def add_port(server: Any, requested: str) -> int:
        if requested != WILDCARD:
            return original(server, requested)
        port = original(server, address)
        logger.info(
            "Serve replica gRPC server bound to %s (port %s), not %s: the node IP is loopback", address, port, requested
        )
        return port

    setattr(add_port, _MARK, address)
    return add_port


def bind_replica_grpc_to_loopback() -> Optional[str]:
    """In a Serve replica, before it finishes initialising: make its gRPC server bind to the node's
    loopback address. Returns that address, or None when nothing was changed (logged with why).
    Idempotent."""
    import ray

    node_ip = ray.util.get_node_ip_address()
    address = loopback_address(node_ip)
    if address is None:
        logger.info("Serve replica gRPC server left on %s: node IP %s is not a loopback address", WILDCARD, node_ip)
        return None
    try:
        from ray.serve._private import replica as replica_module
    except ImportError:
        replica_module = None
    original = getattr(replica_module, "add_port_to_grpc_server", None)
    if original is None:
        logger.warning(
            "Ray %s has no ray.serve._private.replica.add_port_to_grpc_server: the replica's gRPC server "
            "binds wherever Ray binds it (check with `ss -ltnp`)",
            ray.__version__,
        )
        return None
    if getattr(original, _MARK, None) is None:
        replica_module.add_port_to_grpc_server = loopback_binder(original, address)
    return address
