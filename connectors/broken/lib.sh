# Shared by the broken fixtures (sourced, not run): a correct protocol-v1 connector with a
# secret `apiToken`. Each fixture sources this file, redefines the one function it breaks,
# and calls `main "$@"`, so every other command stays correct and exactly the intended
# conformance check fails. POSIX sh; JSON is matched with sed, which is enough for the
# compact lines the runner writes.

NOW=$(date -u +%Y-%m-%dT%H:%M:%SZ)
# Records are created "now", so they are newer than any cutoff a test can choose.
CREATED=$NOW
CONFIG_LINE=''
SYNC_LINE=''
TOKEN=''

emit() { printf '%s\n' "$1"; }

fail() {
  emit "{\"type\":\"error\",\"message\":\"$2\",\"kind\":\"$1\"}"
  printf 'error: %s\n' "$2" >&2
  exit 1
}

read_config() {
  IFS= read -r CONFIG_LINE || [ -n "$CONFIG_LINE" ] || fail config "stdin closed before a config message arrived"
  case $CONFIG_LINE in *'"type":"config"'*) ;; *) fail config "expected a config message first on stdin" ;; esac
  case $CONFIG_LINE in *'"protocol":1'[,}]*) ;; *) fail config "this connector speaks protocol 1 only" ;; esac
  TOKEN=$(printf '%s\n' "$CONFIG_LINE" | sed -n 's/.*"apiToken":"\([^"]*\)".*/\1/p')
}

read_sync_input() {
  read_config
  [ -n "$TOKEN" ] || fail config "apiToken must be present"
  IFS= read -r SYNC_LINE || [ -n "$SYNC_LINE" ] || fail config "stdin closed before a sync message arrived"
}

emit_record() {
  emit "{\"type\":\"record\",\"record\":{\"_type\":\"Incident\",\"id\":\"$1\",\"self\":\"https://broken.example/incidents/$1\",\"title\":\"Fixture incident $1\",\"status\":\"triggered\",\"createdAt\":\"$CREATED\"},\"extracted_at\":\"$NOW\"}"
}

emit_state() { emit "{\"type\":\"state\",\"state\":{\"syncedAt\":\"$NOW\"}}"; }

spec_cmd() {
  emit "{\"type\":\"spec\",\"protocol\":1,\"name\":\"$FIXTURE\",\"version\":\"0.1.0\",\"config_schema\":{\"type\":\"object\",\"required\":[\"apiToken\"],\"additionalProperties\":false,\"properties\":{\"apiToken\":{\"type\":\"string\",\"minLength\":1,\"writeOnly\":true}}},\"record_types\":[\"Incident\"]}"
}

verify_cmd() {
  read_config
  if [ -n "$TOKEN" ]; then
    emit '{"type":"verification","valid":true}'
  else
    emit '{"type":"verification","valid":false,"errors":["apiToken must be present"]}'
  fi
}

discover_cmd() {
  read_config
  [ -n "$TOKEN" ] || fail config "apiToken must be present"
  emit '{"type":"stream","stream":{"_type":"Stream","id":"fixture","self":"https://broken.example/","name":"Fixture stream"}}'
}

sync_cmd() {
  read_sync_input
  emit_record br-2
  emit_record br-1
  emit_state
}

main() {
  case ${1:-} in
    spec) spec_cmd ;;
    verify) verify_cmd ;;
    discover) discover_cmd ;;
    sync) sync_cmd ;;
    *) printf 'usage: %s spec|verify|discover|sync\n' "$0" >&2; exit 2 ;;
  esac
}
