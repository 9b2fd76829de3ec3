# The scheduled path of rehearse-fargate.sh (sourced by it, after the job's copy is set up):
# schedule, fire, the coordinator task's run, its report on S3 and its event. Needs $bin,
# $endpoint and the coordinator user's key in the environment (rehearsal.prepare --scheduled).

# Prints a JSON field of standard input: json_field KEY… (nested keys).
json_field() {
    python3 -c 'import json, sys
v = json.load(sys.stdin)
for k in sys.argv[1:]:
    v = v[int(k)] if isinstance(v, list) else v[k]
print(v if isinstance(v, str) else json.dumps(v))' "$@"
}

rehearse_scheduled() {
    local copy=$1 name group runs fired task status code
    name=$(json_field name <"$copy")
    group=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["fargate"].get("schedule", {}).get("group", "crawlrun"))' "$copy")
    echo "rehearse-fargate: crawlrun schedule $copy --cron 'cron(0 3 * * ? *)'"
    "$bin/crawlrun" schedule "$copy" --cron 'cron(0 3 * * ? *)' --timezone UTC || return 2
    "$bin/crawlrun" schedule list "$copy"
    echo "rehearse-fargate: firing schedule $group/$name now (the scheduler's RunTask, as its role)"
    fired=$(curl -sf -X POST -H 'Content-Type: application/json' -d "{\"name\": \"$name\", \"group\": \"$group\"}" \
        "$endpoint/_rehearsal/fire") || { echo "rehearse-fargate: the fire failed" >&2; return 2; }
    task=$(printf '%s' "$fired" | json_field taskArns 0)
    echo "rehearse-fargate: coordinator task $task"
    # The coordinator runs the job on batch tasks; wait for its task to stop.
    status=""
    for _ in $(seq 1 600); do
        status=$(curl -sf "$endpoint/_rehearsal/tasks" | python3 -c 'import json, sys
t = [t for t in json.load(sys.stdin)["tasks"] if t["taskArn"] == sys.argv[1]]
c = [c for c in t[0].get("containers", []) if c.get("name") == "coordinator"] if t else []
print(t[0]["lastStatus"] + " " + str(c[0].get("exitCode", "none") if c else "none") if t else "MISSING none")' "$task")
        [ "${status%% *}" = STOPPED ] && break
        sleep 1
    done
    code=${status##* }
    echo "rehearse-fargate: the coordinator task stopped, exit code $code; its log (CloudWatch):"
    python3 - "$copy" "$task" "$endpoint" <<'PY' || true
import json, sys, boto3
job = json.load(open(sys.argv[1]))
logs = boto3.client("logs", region_name=job["fargate"]["region"], endpoint_url=sys.argv[3])
stream = "crawlrun-coordinator/coordinator/" + sys.argv[2].rsplit("/", 1)[-1]
for e in logs.get_log_events(logGroupName=job["fargate"]["logGroup"], logStreamName=stream, startFromHead=True)["events"]:
    print("  | " + e["message"])
PY
    runs=$(python3 -c 'import json, sys; f = json.load(open(sys.argv[1]))["fargate"]; print("s3://%s/%s%s/runs" % (f["bucket"], f["prefix"], json.load(open(sys.argv[1]))["name"]))' "$copy")
    "$bin/crawlrun" runs --runs-dir "$runs"
    "$bin/crawlrun" schedule list "$copy"
    echo "rehearse-fargate: the event EventBridge delivered (rule crawlrun-finished):"
    curl -sf "$endpoint/_rehearsal/events" | python3 -c 'import json, sys
for e in json.load(sys.stdin)["events"]:
    print("  " + e["detail-type"] + ": " + json.dumps(e["detail"]))'
    if [ "$code" = 1 ] && [ "$demo" = 1 ]; then
        echo "rehearse-fargate: done. One URL (products/25.html) does not exist on purpose, to show how failures are reported."
        return 0
    fi
    [ "$code" = none ] && return 2
    return "$code"
}
