# Reads `perf script -F ip,sym,dso` of stsgate recorded with DWARF call graphs (benches/load/run.sh,
# PROFILE=1) and prints, tab-separated:
#   stage <percent of samples> <stage> <of which in malloc/free/realloc, percent of samples>
#   self  <percent of samples> <object> <symbol>     (the 15 largest, as `perf report --no-children`)
#
# A sample belongs to the kernel when its innermost frame does (syscalls: TCP on loopback, epoll),
# otherwise to the first stage below that any of its frames names: so SigV4 signing is counted as
# signing wherever it is called from, and "upstream client" is what forwarding costs besides it.

BEGIN {
    n = split("SigV4 signing|session cache (broker)|claim mapping|access log, metrics|" \
        "route, operation, ARN and header checks|token check (validated-token cache hit)|" \
        "upstream client (hyper client, pool)|client side (hyper server: parse, write)|" \
        "other stsgate code|tokio runtime", stage, "|")
    pattern[1] = "aws_sigv4::|stsgate::signing::"
    # The broker before the mapping: a session lookup hashes and compares a mapping::SessionSpec.
    pattern[2] = "stsgate::broker::"
    pattern[3] = "stsgate::mapping::"
    pattern[4] = "access_log|prometheus::|tracing_subscriber::|tracing_core::"
    pattern[5] = "proxy::route|chime::operations|chime::request|proxy::inbound|proxy::headers|stsgate::arn"
    pattern[6] = "Gateway::identify|token_cache|identity::Authenticator|stsgate_front_door"
    # The pool's connection tasks run hyper's client-side dispatcher (hyper::proto frames): they
    # are the upstream client, not the client side.
    pattern[7] = "hyper_util::client|hyper::client|stsgate::http_client|proxy::forward|proxy::upstream_pool"
    pattern[8] = "hyper::proto|hyper::server|hyper_util::server|proxy::server"
    pattern[9] = "stsgate::"
    pattern[10] = "tokio::|mio::"
    # glibc's and mimalloc's (stsgate's allocator) entry points and internals.
    alloc = "^(_int_malloc|_int_free|_int_realloc|malloc|cfree@.*|free|realloc|malloc_consolidate|unlink_chunk.*|__libc_.*alloc|__GI___libc_.*|_?mi_[a-z_]+)( \\(inlined\\))?$"
    samples = 0
}

function finish(   i, s) {
    if (frames == 0) return
    samples++
    self[leaf_dso "\t" leaf_sym]++
    if (leaf_kernel) {
        s = "kernel (syscalls: TCP on loopback, epoll)"
    } else {
        s = "other"
        for (i = 1; i <= n; i++) if (stack ~ pattern[i]) { s = stage[i]; break }
        if (leaf_sym ~ alloc) in_alloc[s]++
    }
    count[s]++
    frames = 0
    have_leaf = 0
    stack = ""
}

/^[[:space:]]*$/ { finish(); next }

{
    # "\t    ip symbol (object)"; inlined frames say "(inlined)" and share the ip.
    line = $0
    sub(/^[[:space:]]+[0-9a-f]+ /, "", line)
    obj = line
    if (match(line, / \([^()]*\)$/)) {
        obj = substr(line, RSTART + 2, RLENGTH - 3)
        line = substr(line, 1, RSTART - 1)
    }
    if (!have_leaf && obj != "inlined") {
        sub(/.*\//, "", obj)
        leaf_dso = obj
        leaf_sym = line
        leaf_kernel = (obj ~ /kernel/)
        have_leaf = 1
    }
    frames++
    stack = stack "\n" line
}

END {
    finish()
    if (samples == 0) exit 1
    for (s in count) printf "stage\t%.1f\t%s\t%.1f\n", 100 * count[s] / samples, s, 100 * in_alloc[s] / samples
    for (k in self) printf "self\t%.2f\t%s\n", 100 * self[k] / samples, k
}
