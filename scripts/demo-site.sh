# Sourced by scripts/demo.sh, scripts/rehearse-fargate.sh and scripts/aws-smoke.sh: serves
# jobs/demo-site on loopback as the demo job expects it (first_line waits for a server's first
# line). The caller sets `work` (a scratch directory) and `bin` (the built binaries) and stops
# `demo_site_pid` on its way out.

demo_site_pid=

# Waits until FILE has its first line (or PID exits); prints that line.
first_line() {
    for _ in $(seq 600); do
        [ -s "$1" ] && break
        kill -0 "$2" 2>/dev/null || break
        sleep 0.05
    done
    head -n 1 "$1" || true
}

# serve_demo_site NAME: starts fixture-site on DEMO_PORT (8080 by default) and waits until it
# listens; sets `base` (its URL) and `job` (jobs/demo.json, or a copy naming the port when it is
# not 8080). Exits 1 with a message that starts with NAME when the site cannot listen.
serve_demo_site() {
    local name=$1
    local port="${DEMO_PORT:-8080}"
    job=jobs/demo.json
    "$bin/fixture-site" --root jobs/demo-site --port "$port" >"$work/site.out" 2>&1 &
    demo_site_pid=$!
    # The site prints its base URL once it listens (or an error and exits).
    base=$(first_line "$work/site.out" "$demo_site_pid")
    case "$base" in
    http://*) ;;
    *)
        echo "$name: cannot serve the demo site on port $port: $(cat "$work/site.out")" >&2
        echo "$name: set DEMO_PORT to a free port, e.g. DEMO_PORT=18080 $0" >&2
        exit 1
        ;;
    esac
    if [ "$port" != 8080 ]; then
        # The job's URL list names port 8080: run a copy that names this one.
        sed "s#127.0.0.1:8080#127.0.0.1:$port#g" jobs/demo-urls.txt >"$work/demo-urls.txt"
        cp jobs/demo.json "$work/demo.json"
        job="$work/demo.json"
    fi
}
