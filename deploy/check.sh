#!/usr/bin/env bash
# Checks the deployment files: Prometheus rules (promtool check + unit tests), the Grafana
# dashboard's queries, every Kubernetes manifest against the Kubernetes schemas plus the policy
# below, the IAM policies' shape and Chime actions, the ConfigMaps' stsgate.toml with
# `stsgate check`, that the STSGATE_ variables a manifest sets name config keys, and that every
# stsgate_* name used by alerts, tests and dashboard is one the binary exports.
#
# Installs what is missing, quietly: promtool (extracted from Debian's prometheus package, see
# install_promtool) and kubernetes-validate (pip). Idempotent; runs every check, then exits 1 if
# any failed, naming each.
#
#   STSGATE_BIN           stsgate binary for `stsgate check` (default target/debug/stsgate; skipped
#                         with a warning if that default is absent)
#   STSGATE_METRICS_FILE  the binary's /metrics output (or one metric name per line); the metric
#                         name check is skipped with a warning when unset
#   PROMTOOL              promtool to use instead of PATH / the cached one
#   STSGATE_TOOLS_DIR     where an installed promtool is kept (default target/tools)
#   K8S_VERSIONS          Kubernetes schema versions to validate against
set -euo pipefail

KUBERNETES_VALIDATE_VERSION=1.37.0
# 1.29: the oldest release with native sidecars (restartable init containers) on by default;
# 1.37: the newest schema kubernetes-validate 1.37.0 ships.
K8S_VERSIONS=${K8S_VERSIONS:-"1.29.0 1.37.0"}
# shutdown_grace_seconds (default 20): the drain every manifest's grace period must leave room for.
DRAIN_SECONDS=20

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
started=$SECONDS
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

passed=()
failed=()
skipped=()

# run NAME CMD...: runs a check, keeps its output, prints it only when it fails.
run() {
    local name=$1
    shift
    if "$@" >"$tmp/out" 2>&1; then
        passed+=("$name")
        echo "PASS  $name"
    else
        failed+=("$name")
        echo "FAIL  $name"
        sed 's/^/      /' "$tmp/out"
    fi
}

skip() {
    skipped+=("$1")
    echo "SKIP  $1: $2" >&2
}

# Debian's prometheus package is ~19 MB to download and ~96 MB installed with a dozen JS
# dependencies, creates a system user, and enables a Prometheus server on :9090 (the admin port
# stsgate uses too) wherever services may start. Only promtool is needed: take it out of the
# .deb (about 3 s) instead of installing the package (about 9 s).
install_promtool() {
    local dir=${STSGATE_TOOLS_DIR:-$root/target/tools}
    local work="$tmp/promtool-deb"
    mkdir -p "$dir" "$work"
    echo "installing promtool from Debian's prometheus package into $dir" >&2
    if ! (cd "$work" && apt-get download -qq prometheus) >"$tmp/apt.log" 2>&1; then
        # A fresh machine may have no package lists yet.
        apt-get update -qq >>"$tmp/apt.log" 2>&1 || true
        if ! (cd "$work" && apt-get download -qq prometheus) >>"$tmp/apt.log" 2>&1; then
            cat "$tmp/apt.log" >&2
            echo "could not download Debian's prometheus package; install promtool or set PROMTOOL" >&2
            return 1
        fi
    fi
    dpkg-deb --fsys-tarfile "$work"/prometheus_*.deb | tar -x -C "$work" ./usr/bin/promtool
    # Rename into place: a concurrent run never sees a half-written binary.
    install -m 0755 "$work/usr/bin/promtool" "$dir/promtool.$$"
    mv -f "$dir/promtool.$$" "$dir/promtool"
    echo "$dir/promtool"
}

find_promtool() {
    local cached=${STSGATE_TOOLS_DIR:-$root/target/tools}/promtool
    if [[ -n ${PROMTOOL:-} ]]; then
        echo "$PROMTOOL"
    elif command -v promtool >/dev/null; then
        command -v promtool
    elif [[ -x $cached ]]; then
        echo "$cached"
    else
        install_promtool
    fi
}

ensure_kubernetes_validate() {
    local have
    have=$(python3 -c 'import importlib.metadata as m; print(m.version("kubernetes-validate"))' 2>/dev/null || true)
    if [[ $have != "$KUBERNETES_VALIDATE_VERSION" ]]; then
        echo "installing kubernetes-validate==$KUBERNETES_VALIDATE_VERSION" >&2
        PIP_ROOT_USER_ACTION=ignore python3 -m pip install --quiet --disable-pip-version-check \
            "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION" >&2
    fi
}

# A missing tool fails its checks, not the whole run.
promtool=$(find_promtool) || promtool=false
ensure_kubernetes_validate || echo "kubernetes-validate could not be installed" >&2

# The Python half: policy and cross-reference checks no schema expresses.
cat >"$tmp/check.py" <<'PY'
import json, re, sys, pathlib

import yaml

def fail(errors):
    for e in errors:
        print(e)
    sys.exit(1 if errors else 0)

def docs(path):
    return [d for d in yaml.safe_load_all(pathlib.Path(path).read_text()) if d]

def matches(selector, labels):
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())

def duration_seconds(cmd):
    # ["sleep", "N"] (possibly via sh -c) -> N; anything else counts as 0.
    m = re.search(r"\bsleep\s+(\d+)", " ".join(cmd or []))
    return int(m.group(1)) if m else 0

def prestop_seconds(c):
    hook = (c.get("lifecycle") or {}).get("preStop") or {}
    if "sleep" in hook:
        return int(hook["sleep"].get("seconds", 0))
    return duration_seconds((hook.get("exec") or {}).get("command"))

POD_MONITOR_SPEC = {"selector", "podMetricsEndpoints", "namespaceSelector", "jobLabel",
    "podTargetLabels", "sampleLimit", "targetLimit", "labelLimit", "labelNameLengthLimit",
    "labelValueLengthLimit", "keepDroppedTargets", "attachMetadata", "scrapeClass",
    "scrapeProtocols", "bodySizeLimit"}
POD_MONITOR_ENDPOINT = {"port", "portNumber", "targetPort", "path", "scheme", "params",
    "interval", "scrapeTimeout", "honorLabels", "honorTimestamps", "metricRelabelings",
    "relabelings", "tlsConfig", "authorization", "basicAuth", "bearerTokenSecret", "oauth2",
    "followRedirects", "enableHttp2", "filterRunning", "proxyUrl"}
SCHEMA_KINDS = {"ServiceAccount", "ConfigMap", "Deployment", "Service", "PodDisruptionBudget",
    "Ingress"}

def check_manifests(drain, outdir, paths):
    """Policy for every manifest file; writes each stsgate ConfigMap's TOML to outdir."""
    try:
        import tomllib
    except ImportError:  # Python < 3.11
        import tomli as tomllib
    errors = []
    for path in paths:
        items = docs(path)
        by_kind = {}
        for d in items:
            by_kind.setdefault(d.get("kind"), []).append(d)
            kind = d.get("kind")
            if kind not in SCHEMA_KINDS | {"PodMonitor"}:
                errors.append(f"{path}: kind {kind!r}: neither in the schemas checked nor handled here")
        named = lambda kind, name: next((d for d in by_kind.get(kind, []) if d["metadata"]["name"] == name), None)
        pods = []  # (deployment name, pod template labels, all containers, pod spec)
        for dep in by_kind.get("Deployment", []):
            where = f"{path}: Deployment {dep['metadata']['name']}"
            tpl = dep["spec"]["template"]
            spec = tpl["spec"]
            labels = tpl["metadata"].get("labels", {})
            if not matches(dep["spec"]["selector"].get("matchLabels"), labels):
                errors.append(f"{where}: selector does not match the pod template labels")
            inits = spec.get("initContainers", [])
            mains = spec.get("containers", [])
            containers = inits + mains
            pods.append((dep["metadata"]["name"], labels, containers, spec))
            psc = spec.get("securityContext", {})
            for c in containers:
                cw = f"{where}, container {c['name']}"
                sc = c.get("securityContext", {})
                eff = lambda k: sc.get(k, psc.get(k))
                if eff("runAsNonRoot") is not True:
                    errors.append(f"{cw}: runAsNonRoot must be true")
                if not isinstance(eff("runAsUser"), int) or eff("runAsUser") == 0:
                    errors.append(f"{cw}: needs a non-zero runAsUser (the image's USER is numeric)")
                if (eff("seccompProfile") or {}).get("type") != "RuntimeDefault":
                    errors.append(f"{cw}: seccompProfile must be RuntimeDefault")
                if sc.get("allowPrivilegeEscalation") is not False:
                    errors.append(f"{cw}: allowPrivilegeEscalation must be false")
                if sc.get("readOnlyRootFilesystem") is not True:
                    errors.append(f"{cw}: readOnlyRootFilesystem must be true")
                if "ALL" not in (sc.get("capabilities") or {}).get("drop", []):
                    errors.append(f"{cw}: capabilities must drop ALL")
                res = c.get("resources", {})
                if not {"cpu", "memory"} <= set(res.get("requests", {})) or "memory" not in res.get("limits", {}):
                    errors.append(f"{cw}: needs cpu and memory requests and a memory limit")
            sa = spec.get("serviceAccountName")
            sa_doc = named("ServiceAccount", sa) if sa else None
            arn = ((sa_doc or {}).get("metadata", {}).get("annotations") or {}).get("eks.amazonaws.com/role-arn", "")
            if not re.fullmatch(r"arn:aws:iam::\d{12}:role/[\w+=,.@/-]+", arn):
                errors.append(f"{where}: ServiceAccount {sa!r} in this file needs an eks.amazonaws.com/role-arn role ARN")
            # Only stsgate may get the role: the webhook injects it into every other container.
            others = {c["name"] for c in containers if "stsgate" not in c.get("image", "")}
            skipped = (tpl["metadata"].get("annotations") or {}).get("eks.amazonaws.com/skip-containers", "")
            if others - {n.strip() for n in skipped.split(",")}:
                errors.append(f"{where}: eks.amazonaws.com/skip-containers must list {sorted(others)}: only stsgate holds AWS credentials")

            for c in containers:
                if "stsgate" not in c.get("image", ""):
                    continue
                cw = f"{where}, stsgate container {c['name']}"
                ports = {p["name"]: p["containerPort"] for p in c.get("ports", []) if "name" in p}
                for probe, path_ in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
                    get = (c.get(probe) or {}).get("httpGet") or {}
                    if get.get("path") != path_ or get.get("port") not in ("admin", ports.get("admin")):
                        errors.append(f"{cw}: {probe} must GET {path_} on the admin port")
                if "admin" not in ports:
                    errors.append(f"{cw}: needs a port named admin")
                args = c.get("args", [])
                if "--config" not in args:
                    errors.append(f"{cw}: needs --config FILE")
                    continue
                conf = args[args.index("--config") + 1]
                mount = next((m for m in c.get("volumeMounts", []) if conf.startswith(m["mountPath"].rstrip("/") + "/")), None)
                vol = mount and next((v for v in spec.get("volumes", []) if v["name"] == mount["name"]), None)
                cm_name = vol and (vol.get("configMap") or {}).get("name")
                cm = cm_name and named("ConfigMap", cm_name)
                key = conf[len(mount["mountPath"].rstrip("/")) + 1:] if mount else None
                if not cm or key not in cm.get("data", {}):
                    errors.append(f"{cw}: --config {conf} is not a key of a ConfigMap in this file")
                    continue
                text = cm["data"][key]
                rel = pathlib.Path(path).relative_to("deploy/kubernetes").with_suffix("")
                out = pathlib.Path(outdir) / f"{str(rel).replace('/', '-')}.{cm_name}"
                pathlib.Path(f"{out}.toml").write_text(text)
                # stsgate only warns about an STSGATE_ variable that names no key (Kubernetes adds
                # its own), so a misspelt one would be ignored: the shell checks these names.
                names = [e["name"] for e in c.get("env", []) if e["name"].startswith("STSGATE_")]
                pathlib.Path(f"{out}.env").write_text("".join(f"{n}\n" for n in names))
                try:
                    toml = tomllib.loads(text)
                except tomllib.TOMLDecodeError as e:
                    errors.append(f"{path}: ConfigMap {cm_name}: {key} is not TOML: {e}")
                    continue
                host, _, port = toml.get("admin_listen", "127.0.0.1:9090").rpartition(":")
                if host in ("127.0.0.1", "localhost", "[::1]"):
                    errors.append(f"{cw}: admin_listen is loopback; kubelet probes and Prometheus use the pod IP")
                if "admin" in ports and int(port) != ports["admin"]:
                    errors.append(f"{cw}: admin_listen port {port} != containerPort admin {ports['admin']}")
                lhost, _, lport = toml.get("listen", "127.0.0.1:8080").rpartition(":")
                if "http" in ports and (int(lport) != ports["http"] or lhost in ("127.0.0.1", "localhost", "[::1]")):
                    errors.append(f"{cw}: port http {ports['http']} is exposed but listen is {toml.get('listen')}")
                # Shutdown: a native sidecar stops only after the main containers, so their
                # preStop comes first; then stsgate's own preStop and its drain, plus slack.
                native = c in spec.get("initContainers", []) and c.get("restartPolicy") == "Always"
                before = max((prestop_seconds(m) for m in spec.get("containers", [])), default=0) if native else 0
                need = before + prestop_seconds(c) + drain + 5
                grace = spec.get("terminationGracePeriodSeconds", 30)
                if grace < need:
                    errors.append(f"{where}: terminationGracePeriodSeconds {grace} < {need} "
                                  f"(preStop before stsgate {before} + stsgate preStop {prestop_seconds(c)} + drain {drain} + 5)")

        def pod_for(selector, what):
            hit = [p for p in pods if matches(selector, p[1])]
            if not hit:
                errors.append(f"{path}: {what}: selector {selector} matches no pod template in this file")
            return hit

        for svc in by_kind.get("Service", []):
            what = f"Service {svc['metadata']['name']}"
            for _, _, containers, _ in pod_for(svc["spec"].get("selector"), what):
                names = {p.get("name") for c in containers for p in c.get("ports", [])}
                numbers = {p["containerPort"] for c in containers for p in c.get("ports", [])}
                for p in svc["spec"]["ports"]:
                    t = p.get("targetPort", p["port"])
                    if t not in names and t not in numbers:
                        errors.append(f"{path}: {what}: targetPort {t!r} is no container port")
        for pdb in by_kind.get("PodDisruptionBudget", []):
            pod_for(pdb["spec"]["selector"].get("matchLabels"), f"PodDisruptionBudget {pdb['metadata']['name']}")
        for ing in by_kind.get("Ingress", []):
            what = f"Ingress {ing['metadata']['name']}"
            tls_hosts = {h for t in ing["spec"].get("tls", []) for h in t.get("hosts", [])}
            for rule in ing["spec"].get("rules", []):
                if rule.get("host") not in tls_hosts:
                    errors.append(f"{path}: {what}: host {rule.get('host')!r} has no TLS entry")
                for p in rule.get("http", {}).get("paths", []):
                    b = p["backend"]["service"]
                    svc = named("Service", b["name"])
                    ports = svc and [x for x in svc["spec"]["ports"]
                                     if x.get("name") == b["port"].get("name") or x["port"] == b["port"].get("number")]
                    if not ports:
                        errors.append(f"{path}: {what}: backend {b} is no Service port in this file")
        # No CRD schema here: PodMonitor's fields are checked against the prometheus-operator
        # API by name, and its selector and port against the pods it should scrape.
        for pm in by_kind.get("PodMonitor", []):
            what = f"PodMonitor {pm['metadata']['name']}"
            if pm.get("apiVersion") != "monitoring.coreos.com/v1":
                errors.append(f"{path}: {what}: apiVersion must be monitoring.coreos.com/v1")
            spec = pm.get("spec") or {}
            for k in set(spec) - POD_MONITOR_SPEC:
                errors.append(f"{path}: {what}: unknown spec field {k!r}")
            endpoints = spec.get("podMetricsEndpoints") or []
            if not endpoints:
                errors.append(f"{path}: {what}: podMetricsEndpoints is required")
            targets = pod_for((spec.get("selector") or {}).get("matchLabels"), what)
            names = {p.get("name") for _, _, cs, _ in targets for c in cs for p in c.get("ports", [])}
            for ep in endpoints:
                for k in set(ep) - POD_MONITOR_ENDPOINT:
                    errors.append(f"{path}: {what}: unknown endpoint field {k!r}")
                if ep.get("port") not in names:
                    errors.append(f"{path}: {what}: port {ep.get('port')!r} is no named port of the selected pods")
                if not str(ep.get("path", "/metrics")).startswith("/"):
                    errors.append(f"{path}: {what}: path must start with /")
                for k in ("interval", "scrapeTimeout"):
                    if k in ep and not re.fullmatch(r"(\d+(ms|s|m|h))+", str(ep[k])):
                        errors.append(f"{path}: {what}: {k} {ep[k]!r} is not a duration")
        if not pods:
            errors.append(f"{path}: no Deployment")
    fail(errors)

def check_alerts(rules_path, tests_path):
    """Every alert: for, severity, summary/description/runbook; tested firing and silent."""
    errors = []
    rules = yaml.safe_load(pathlib.Path(rules_path).read_text())
    tests = yaml.safe_load(pathlib.Path(tests_path).read_text())
    fires, silent = set(), set()
    for t in tests.get("tests", []):
        for a in t.get("alert_rule_test", []):
            (fires if a.get("exp_alerts") else silent).add(a["alertname"])
    for g in rules["groups"]:
        for r in g["rules"]:
            if "alert" not in r:
                continue
            name = r["alert"]
            if "for" not in r:
                errors.append(f"{name}: no for:")
            if r.get("labels", {}).get("severity") not in ("warning", "critical"):
                errors.append(f"{name}: severity must be warning or critical")
            for k in ("summary", "description", "runbook"):
                if not r.get("annotations", {}).get(k):
                    errors.append(f"{name}: no {k} annotation")
            if name not in fires:
                errors.append(f"{name}: no test where it fires")
            if name not in silent:
                errors.append(f"{name}: no test where it stays silent")
    fail(errors)

def dashboard_rules(dashboard, out):
    """The dashboard's queries as recording rules, for promtool's PromQL parser; plus layout."""
    errors = []
    d = json.loads(pathlib.Path(dashboard).read_text())
    subst = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h"}
    rules, ids = [], set()
    for p in d["panels"]:
        if p["id"] in ids:
            errors.append(f"panel {p['id']}: duplicate id")
        ids.add(p["id"])
        g = p["gridPos"]
        if g["x"] + g["w"] > 24:
            errors.append(f"panel {p['title']!r}: wider than the grid")
        if p["type"] == "row":
            continue
        if p.get("datasource", {}).get("uid") != "${datasource}":
            errors.append(f"panel {p['title']!r}: not on the $datasource variable")
        for t in p.get("targets", []):
            expr = t["expr"]
            for k, v in subst.items():
                expr = expr.replace(k, v)
            expr = re.sub(r"\$\{?(\w+)\}?", ".*", expr)
            rules.append({"record": f"dashboard:panel{p['id']}_{t['refId']}", "expr": expr})
    pathlib.Path(out).write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    fail(errors)

def metric_names(metrics_file, *used):
    """Every stsgate_* name in the used files must be exported (per the metrics file)."""
    exported = set()
    for line in pathlib.Path(metrics_file).read_text().splitlines():
        line = line.strip()
        m = re.match(r"#\s*TYPE\s+(\S+)\s+(\S+)", line)
        if m:
            exported.add(m.group(1))
            if m.group(2) in ("histogram", "summary"):
                exported |= {m.group(1) + s for s in ("_bucket", "_sum", "_count")}
            continue
        m = re.match(r"#\s*HELP\s+(\S+)", line)
        if m:
            exported.add(m.group(1))
        elif line and not line.startswith("#"):
            exported.add(re.match(r"[^{\s]+", line).group(0))
    if not any(n.startswith("stsgate_") for n in exported):
        fail([f"{metrics_file}: no stsgate_* metric in it"])
    errors = []
    for f in used:
        names = set(re.findall(r"\bstsgate_[a-z0-9_]*[a-z0-9]", pathlib.Path(f).read_text()))
        for n in sorted(names - exported):
            errors.append(f"{f}: {n} is not exported by stsgate")
    if errors:
        errors.append("(labelled families appear in /metrics only once something was counted: "
                      "the scrape must follow traffic that touches them)")
    fail(errors)

def check_iam(operations_tsv, *paths):
    """Each file is a policy document whose chime: actions are real ones."""
    known = {line.split("\t")[0] for line in open(operations_tsv) if line and not line.startswith("#")}
    known |= {"Connect", "CreateAppInstanceUser"}
    errors = []
    for path in paths:
        try:
            doc = json.load(open(path))
        except ValueError as e:
            errors.append(f"{path}: not JSON: {e}")
            continue
        if doc.get("Version") != "2012-10-17":
            errors.append(f"{path}: Version must be 2012-10-17")
        for i, st in enumerate(doc.get("Statement") or [None]):
            if not isinstance(st, dict) or st.get("Effect") not in ("Allow", "Deny"):
                errors.append(f"{path}: Statement[{i}] needs Effect Allow or Deny")
                continue
            actions = st.get("Action")
            actions = [actions] if isinstance(actions, str) else actions or []
            if not actions:
                errors.append(f"{path}: Statement[{i}] has no Action")
            for a in actions:
                service, _, name = a.partition(":")
                if service == "chime" and name not in known:
                    errors.append(f"{path}: {a} is not a Chime action")
    fail(errors)


cmd, *args = sys.argv[1:]
{"manifests": lambda: check_manifests(int(args[0]), args[1], args[2:]),
 "iam": lambda: check_iam(*args),
 "alerts": lambda: check_alerts(*args),
 "dashboard": lambda: dashboard_rules(*args),
 "metrics": lambda: metric_names(*args)}[cmd]()
PY

rules=deploy/prometheus/alerts.yaml
rule_tests=deploy/prometheus/alerts_test.yaml
dashboard=deploy/grafana/stsgate.json
mapfile -t manifests < <(find deploy/kubernetes -name '*.yaml' ! -name kustomization.yaml | sort)

run "promtool check rules $rules" "$promtool" check rules "$rules"
run "promtool test rules $rule_tests" "$promtool" test rules "$rule_tests"
run "alert rules: for, severity, annotations, fire and silent tests" python3 "$tmp/check.py" alerts "$rules" "$rule_tests"

dashboard_queries() {
    python3 "$tmp/check.py" dashboard "$dashboard" "$tmp/dashboard-rules.yaml" && "$promtool" check rules "$tmp/dashboard-rules.yaml"
}
run "dashboard layout and PromQL ($dashboard)" dashboard_queries

for k in $K8S_VERSIONS; do
    run "kubernetes-validate --strict -k $k (${#manifests[@]} files)" \
        python3 -m kubernetes_validate --strict --quiet --no-warn -k "$k" "${manifests[@]}"
done

run "IAM policy documents (deploy/iam)" python3 "$tmp/check.py" iam src/chime/operations.tsv deploy/iam/*.json

mkdir -p "$tmp/configs"
run "manifest policy (security, probes, grace period, IRSA, selectors, ports, PodMonitor)" \
    python3 "$tmp/check.py" manifests "$DRAIN_SECONDS" "$tmp/configs" "${manifests[@]}"

bin=${STSGATE_BIN:-target/debug/stsgate}
# Each variable set (to 1) in turn: `stsgate check` names any that is no key of the config.
env_names_keys() {
    local name
    while read -r name; do
        if env "$name=1" "$bin" check --config "$1" 2>/dev/null | grep -F "$name names no key"; then
            return 1
        fi
    done <"$2"
}
configs=("$tmp"/configs/*.toml)
if [[ ! -x $bin ]]; then
    if [[ -n ${STSGATE_BIN:-} ]]; then
        failed+=("STSGATE_BIN=$bin is not an executable")
        echo "FAIL  STSGATE_BIN=$bin is not an executable"
    else
        skip "stsgate check" "$bin not built (set STSGATE_BIN)"
    fi
elif [[ ! -e ${configs[0]} ]]; then
    failed+=("no ConfigMap config extracted")
    echo "FAIL  no ConfigMap config extracted (see the manifest policy check)"
else
    for c in "${configs[@]}"; do
        run "stsgate check: $(basename "$c" .toml)" "$bin" check --config "$c"
        run "STSGATE_ variables of $(basename "$c" .toml) name keys" env_names_keys "$c" "${c%.toml}.env"
    done
fi

if [[ -z ${STSGATE_METRICS_FILE:-} ]]; then
    skip "metric names" "STSGATE_METRICS_FILE unset; cannot tell which metrics the binary exports"
elif [[ ! -s $STSGATE_METRICS_FILE ]]; then
    failed+=("STSGATE_METRICS_FILE=$STSGATE_METRICS_FILE is missing or empty")
    echo "FAIL  STSGATE_METRICS_FILE=$STSGATE_METRICS_FILE is missing or empty"
else
    run "metric names in alerts, tests and dashboard are exported" \
        python3 "$tmp/check.py" metrics "$STSGATE_METRICS_FILE" "$rules" "$rule_tests" "$dashboard"
fi

elapsed=$((SECONDS - started))
if ((${#failed[@]})); then
    echo "deploy/check.sh: ${#failed[@]} of $((${#passed[@]} + ${#failed[@]})) checks FAILED (${elapsed}s):"
    printf '  - %s\n' "${failed[@]}"
    exit 1
fi
echo "deploy/check.sh: all ${#passed[@]} checks passed, ${#skipped[@]} skipped (${elapsed}s)"
