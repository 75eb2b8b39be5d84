#!/bin/sh
# After the Temporal server answers (docker-compose.yml, service temporal-setup): waits for the cluster to be
# healthy (a retried health call: the port opens before the frontend serves), creates the namespace when missing
# and registers our search attributes (SEARCH_ATTRIBUTES: `Name=Type` pairs, the list of
# workflows/search-attributes.ts; test/unit/compose.test.ts keeps them equal). Idempotent: an existing namespace
# is kept and an existing attribute of the same type is skipped by the server.
set -eu
address="${TEMPORAL_ADDRESS:?TEMPORAL_ADDRESS is required}"
namespace="${TEMPORAL_NAMESPACE:-default}"
retention="${NAMESPACE_RETENTION:-720h}"
attempts="${SETUP_ATTEMPTS:-90}"
: "${SEARCH_ATTRIBUTES:?SEARCH_ATTRIBUTES (Name=Type ...) is required}"

# retry <what> <command...>: runs the command until it succeeds, at most $attempts times, 2 s apart.
retry() {
  what="$1"
  shift
  attempt=1
  until "$@"; do
    if [ "$attempt" -ge "$attempts" ]; then
      echo "${what}: gave up after ${attempt} attempts" >&2
      return 1
    fi
    echo "${what}: not yet (attempt ${attempt}/${attempts})"
    attempt=$((attempt + 1))
    sleep 2
  done
}

ensure_namespace() {
  temporal operator namespace describe --address "$address" --namespace "$namespace" >/dev/null 2>&1 \
    || temporal operator namespace create --address "$address" --namespace "$namespace" --retention "$retention"
}

retry 'cluster health' temporal operator cluster health --address "$address"
retry "namespace ${namespace}" ensure_namespace

set --
for pair in $SEARCH_ATTRIBUTES; do
  set -- "$@" --name "${pair%%=*}" --type "${pair#*=}"
done
retry 'search attributes' temporal operator search-attribute create --address "$address" --namespace "$namespace" "$@"
echo "namespace ${namespace} ready with search attributes: ${SEARCH_ATTRIBUTES}"
