#!/usr/bin/env bash
# A smoke test of CrawlRun on AWS, from nothing back to nothing:
#   1. creates a stack from deploy/cloudformation.yaml (bucket, log group, cluster, ECR
#      repositories, roles, coordinator policy) in the default VPC's public subnets;
#   2. fills a small job's fargate block from it (`crawlrun init --from-stack`);
#   3. pushes the two images if it can (docker present: builds images/crawler and images/sidecar),
#      else says what to build and push, and stops;
#   4. runs `crawlrun doctor`, then the job with 2 tasks (`crawlrun run --backend fargate`);
#   5. prints the report and the cost;
#   6. deletes what it created: the run's objects, the task definitions it registered, the stack.
#
#   bash scripts/aws-smoke.sh [--region R] [--keep] [--stack NAME]   with an AWS account (aws CLI
#       and credentials as for `aws sts get-caller-identity`): crawls 4 pages of public example
#       sites, costs under a US cent of Fargate (2 tasks, each billed at least one minute)
#   bash scripts/aws-smoke.sh --dry-run    the same steps against the Fargate rehearsal
#       (scripts/rehearsal: moto + a task agent) on this machine: pages served on 127.0.0.1, the
#       images stand-ins in the rehearsal's ECR, IAM checked under the stack's coordinator policy
#
# --keep leaves the stack (to push the images by hand, then run again with --stack NAME);
# --stack NAME uses an existing stack of the template instead of creating one (deleted at the end
# unless --keep). CRAWLRUN_BIN_DIR names built binaries (else `swift build` here).
# Exit: 0 every URL crawled · 1 some URLs failed · 2 a step failed · 3 the images must be pushed · 64 usage.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$HOME/.local/bin:$PATH"

dry=0 keep=0 stack="" region="${AWS_REGION:-${AWS_DEFAULT_REGION:-}}"
while [ $# -gt 0 ]; do
    case "$1" in
    --dry-run) dry=1 ;;
    --keep) keep=1 ;;
    --stack) stack=${2:?--stack needs a name}; shift ;;
    --region) region=${2:?--region needs a Region}; shift ;;
    -h | --help) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "aws-smoke: unknown argument $1 (see --help)" >&2; exit 64 ;;
    esac
    shift
done
say() { echo "aws-smoke: $*"; }
fail() { echo "aws-smoke: $*" >&2; exit 2; }

work=$(mktemp -d)
pids=()
stack_ready=0
job_name=crawlrun-smoke
# Back to nothing: the run's objects, the task definitions it registered, the stack.
delete_everything() {
    [ "$dry" = 1 ] && curl -fsS -X POST -d '{"enforce": false}' "$endpoint/_rehearsal/auth" >/dev/null 2>&1
    say "deleting what it created…"
    [ -s "$work/outputs" ] || read_outputs 2>/dev/null || true
    [ -n "${bucket:-}" ] && aws s3 rm "s3://$bucket/$prefix$job_name/" --recursive --quiet || true
    for arn in $(aws ecs list-task-definitions --family-prefix "crawlrun-$job_name" --query taskDefinitionArns --output text 2>/dev/null || true); do
        [ "$arn" = None ] || aws ecs deregister-task-definition --task-definition "$arn" >/dev/null
    done
    [ -n "$stack" ] || return 0
    if [ "$dry" = 1 ]; then
        # moto 5.2.1 ignores the repositories' EmptyOnDelete: their images go first.
        for repo in CrawlerRepositoryUri SidecarRepositoryUri; do
            name=$(output "$repo") && name=${name#*/}
            aws ecr batch-delete-image --repository-name "$name" --image-ids imageTag=smoke >/dev/null
        done
        # moto 5.2.1 deletes an AWS::IAM::ManagedPolicy of a stack without detaching it (it has
        # no delete_from_cloudformation_json), so its roles could not go; CloudFormation detaches.
        for role in ExecutionRoleArn TaskRoleArn; do
            name=$(output "$role") && name=${name##*/}
            for arn in $(aws iam list-attached-role-policies --role-name "$name" --query 'AttachedPolicies[].PolicyArn' --output text); do
                aws iam detach-role-policy --role-name "$name" --policy-arn "$arn"
            done
        done
    fi
    if aws cloudformation delete-stack --stack-name "$stack" &&
        aws cloudformation wait stack-delete-complete --stack-name "$stack"; then
        say "deleted the stack $stack"
    else
        echo "aws-smoke: the stack $stack was not deleted: aws cloudformation describe-stack-events --stack-name $stack" >&2
        return 1
    fi
}
cleanup() {
    local code=$?
    trap - EXIT
    if [ "$stack_ready" = 1 ] && [ "$keep" = 0 ]; then delete_everything || code=2; fi
    [ "$keep" = 1 ] && [ -n "$stack" ] && say "kept the stack $stack (delete it: aws cloudformation delete-stack --stack-name $stack)"
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$work"
    exit "$code"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- tools and binaries ---------------------------------------------------------------------
if [ "$dry" = 1 ]; then
    CRAWLRUN_NEEDS_MOTO=1 scripts/setup.sh
    # The aws CLI (PyPI awscli) plays the person's part against the rehearsal.
    command -v aws >/dev/null 2>&1 || python3 -m pip install -q --user awscli 2>/dev/null ||
        python3 -m pip install -q --user --break-system-packages awscli
fi
command -v aws >/dev/null 2>&1 || fail "the aws CLI is needed (https://docs.aws.amazon.com/cli/latest/userguide/getting-started-install.html)"
if [ -n "${CRAWLRUN_BIN_DIR:-}" ]; then
    bin=$(cd "$CRAWLRUN_BIN_DIR" && pwd)
else
    say "building…"
    swift build 2>&1 | grep -E "error|Build complete" | tail -n 3
    bin=$PWD/.build/debug
fi

# shellcheck source=scripts/demo-site.sh
. scripts/demo-site.sh # first_line

# --- where: AWS, or the rehearsal on loopback -------------------------------------------------
if [ "$dry" = 1 ]; then
    region=us-east-1
    PYTHONPATH=scripts/rehearsal setsid python3 -m rehearsal --crawler "$bin/crawler" --region "$region" \
        >"$work/rehearsal.out" 2>"$work/rehearsal.log" &
    pids+=($!)
    endpoint=$(first_line "$work/rehearsal.out" "${pids[-1]}" |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["endpoint"])' 2>/dev/null) ||
        { cat "$work/rehearsal.log" >&2; fail "the rehearsal did not start"; }
    # The person's own key (moto checks nothing until the coordinator's policy is in force).
    export AWS_ENDPOINT_URL=$endpoint AWS_ACCESS_KEY_ID=AKIASMOKESMOKESMOKE0 AWS_SECRET_ACCESS_KEY=smoke
    export AWS_EC2_METADATA_DISABLED=true
    unset AWS_SESSION_TOKEN AWS_PROFILE
    "$bin/fixture-site" --root jobs/demo-site >"$work/site.out" 2>&1 &
    pids+=($!)
    site=$(first_line "$work/site.out" "${pids[-1]}")
    case "$site" in http://127.0.0.1:*) ;; *) fail "the demo site did not start: $site" ;; esac
    say "dry run: Fargate rehearsed on $endpoint, pages on $site"
fi
[ -n "$region" ] || fail "no Region: give --region or set AWS_REGION"
export AWS_REGION=$region AWS_DEFAULT_REGION=$region
account=$(aws sts get-caller-identity --query Account --output text) || fail "no AWS credentials (aws sts get-caller-identity failed)"

# --- the network: the default VPC's subnets ---------------------------------------------------
vpc=$(aws ec2 describe-vpcs --filters Name=isDefault,Values=true --query 'Vpcs[0].VpcId' --output text)
[ "$vpc" != None ] || fail "no default VPC in $region: create the stack by hand with your subnets (README, \"AWS set-up\")"
subnets=$(aws ec2 describe-subnets --filters "Name=vpc-id,Values=$vpc" --query 'Subnets[0:2].SubnetId' --output text | tr '\t' ,)
if [ "$dry" = 1 ]; then
    # An AWS default VPC routes 0.0.0.0/0 to an internet gateway; moto's has none.
    table=$(aws ec2 describe-route-tables --filters "Name=vpc-id,Values=$vpc" Name=association.main,Values=true \
        --query 'RouteTables[0].RouteTableId' --output text)
    igw=$(aws ec2 create-internet-gateway --query InternetGateway.InternetGatewayId --output text)
    aws ec2 attach-internet-gateway --internet-gateway-id "$igw" --vpc-id "$vpc"
    aws ec2 create-route --route-table-id "$table" --destination-cidr-block 0.0.0.0/0 --gateway-id "$igw" >/dev/null
fi

# --- the stack -------------------------------------------------------------------------------
# The stack's outputs, read once: `output NAME` prints one.
read_outputs() {
    aws cloudformation describe-stacks --stack-name "$stack" --query 'Stacks[0].Outputs[].[OutputKey,OutputValue]' \
        --output text >"$work/outputs"
}
output() { awk -v k="$1" '$1 == k { print $2 }' "$work/outputs"; }
if [ -z "$stack" ]; then
    suffix=$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
    stack=crawlrun-smoke-$suffix
    say "creating the stack $stack in $region (account $account)…"
    # create-stack, not `deploy`: moto 5.2.1 gives a stack made through a change set no outputs.
    aws cloudformation create-stack --stack-name "$stack" --template-body file://deploy/cloudformation.yaml \
        --capabilities CAPABILITY_IAM --parameters ParameterKey=JobName,ParameterValue=$job_name \
        "ParameterKey=VpcId,ParameterValue=$vpc" "ParameterKey=SubnetIds,ParameterValue=\"$subnets\"" \
        ParameterKey=AssignPublicIp,ParameterValue=true "ParameterKey=RepositoryPrefix,ParameterValue=$stack" >/dev/null
    stack_ready=1
    aws cloudformation wait stack-create-complete --stack-name "$stack" ||
        fail "the stack $stack did not complete: aws cloudformation describe-stack-events --stack-name $stack"
else
    read_outputs || fail "cannot read the stack $stack"
    # Only a stack this script made (for its job) is deleted at the end.
    [ "$(output JobName)" = "$job_name" ] ||
        fail "the stack $stack is not one of aws-smoke.sh's (its JobName is not $job_name): left as it is"
    stack_ready=1
fi
read_outputs
bucket=$(output Bucket)
prefix=$(output Prefix)

# --- the job ---------------------------------------------------------------------------------
if [ "$dry" = 1 ]; then
    urls="\"$site/\", \"$site/about.html\", \"$site/products/01.html\", \"$site/products/02.html\", \"$site/products/03.html\", \"$site/products/04.html\""
    private=true
else
    urls='"https://example.com/", "https://example.org/", "https://example.net/", "https://www.iana.org/help/example-domains"'
    private=false
fi
cat >"$work/job.json" <<EOF
{"name": "$job_name", "urls": [$urls], "batching": {"tasks": 2},
 "crawl": {"pageLoadTimeout": 30, "allowPrivateNetworks": $private, "fields": {"heading": "h1"}},
 "task": {"cpu": 1024, "memory": 2048, "crawlerImage": "crawlrun/crawler:smoke", "sidecarImage": "crawlrun/sidecar:smoke",
          "stopTimeout": 10, "maxRunSeconds": 900}}
EOF
"$bin/crawlrun" init --from-stack "$stack" "$work/job.json" --output "$work/job.json"

# --- the images ------------------------------------------------------------------------------
crawler_repo=$(output CrawlerRepositoryUri)
sidecar_repo=$(output SidecarRepositoryUri)
missing=()
for repo in "$crawler_repo" "$sidecar_repo"; do
    aws ecr describe-images --repository-name "${repo#*/}" --image-ids imageTag=smoke >/dev/null 2>&1 || missing+=("$repo")
done
push_commands="aws ecr get-login-password --region $region | docker login --username AWS --password-stdin ${crawler_repo%%/*}
docker build --platform linux/amd64 -f images/crawler/Dockerfile -t $crawler_repo:smoke . && docker push $crawler_repo:smoke
docker build --platform linux/amd64 -t $sidecar_repo:smoke images/sidecar && docker push $sidecar_repo:smoke"
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$dry" = 1 ]; then
        say "the images, on AWS, would be built and pushed with:"
        printf '%s\n' "$push_commands" | sed 's/^/    /'
        # The rehearsal runs the built crawler and chromedriver whatever the image: a manifest
        # without layers stands in for each, so `doctor` finds them in ECR.
        manifest='{"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json", "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 2, "digest": "sha256:00"}, "layers": []}'
        for repo in "${missing[@]}"; do
            aws ecr put-image --repository-name "${repo#*/}" --image-tag smoke --image-manifest "$manifest" >/dev/null
        done
    elif docker info >/dev/null 2>&1; then
        say "building and pushing the two images…"
        sh -ec "$push_commands"
    else
        say "no Docker engine answers here (docker info): build and push the two images, from this checkout:"
        printf '%s\n' "$push_commands" | sed 's/^/    /'
        [ "$keep" = 1 ] && say "then: bash scripts/aws-smoke.sh --stack $stack" ||
            say "(run with --keep to keep the stack while you push, then again with --stack NAME)"
        exit 3
    fi
fi

# --- doctor and the run ----------------------------------------------------------------------
if [ "$dry" = 1 ]; then
    # crawlrun runs as a user holding the stack's coordinator policy, every call checked (ECS and
    # Logs statements widened to "*": moto cannot evaluate their resources).
    policy=$(aws iam get-policy-version --policy-arn "$(output CoordinatorPolicyArn)" --version-id v1 \
        --query PolicyVersion.Document --output json |
        PYTHONPATH=scripts/rehearsal python3 -c 'import json, sys; from rehearsal.control import moto_evaluable; print(json.dumps(moto_evaluable(json.load(sys.stdin))))')
    aws iam create-user --user-name crawlrun-smoke >/dev/null
    arn=$(aws iam create-policy --policy-name crawlrun-smoke-coordinator --policy-document "$policy" --query Policy.Arn --output text)
    aws iam attach-user-policy --user-name crawlrun-smoke --policy-arn "$arn"
    read -r key secret < <(aws iam create-access-key --user-name crawlrun-smoke --query 'AccessKey.[AccessKeyId,SecretAccessKey]' --output text)
    curl -fsS -X POST -d '{"enforce": true}' "$endpoint/_rehearsal/auth" >/dev/null
    run_env=(env "AWS_ACCESS_KEY_ID=$key" "AWS_SECRET_ACCESS_KEY=$secret")
else
    run_env=(env)
fi
"${run_env[@]}" "$bin/crawlrun" doctor "$work/job.json" || fail "doctor found a problem (above)"
set +e
"${run_env[@]}" "$bin/crawlrun" run "$work/job.json" --backend fargate --runs-dir "$work/runs"
run_code=$?
set -e
[ "$dry" = 1 ] && curl -fsS -X POST -d '{"enforce": false}' "$endpoint/_rehearsal/auth" >/dev/null
report="$work/runs/latest/report.json"
[ -f "$report" ] || fail "the run wrote no report (exit $run_code)"
python3 - "$report" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
c, cost = r.get("counts", {}), r.get("cost", {})
print("aws-smoke: report:", json.dumps({k: c[k] for k in c if not isinstance(c[k], (dict, list))}))
for t in r.get("tasks", {}).get("list", []):
    print(f"  task {t['task'].rsplit('/', 1)[-1]} (batch {t['batch']}): {t['records']}/{t['urls']} records, exit codes "
          f"{t['exitCodes']}, {t['billedSeconds']} s billed, ${t['costUSD']}, {t['capacityProvider']}")
print(f"aws-smoke: cost ${cost.get('usd')} (${cost.get('usdPer1000Pages')} per 1000 pages{', an upper bound' if cost.get('upperBound') else ''}): {cost.get('basis')}")
EOF

exit "$run_code"
