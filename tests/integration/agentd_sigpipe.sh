#!/usr/bin/env bash
# An agent whose log pipe closes (its manager died under supervisord, journald
# restarted) keeps running: SIGPIPE is ignored and the write just fails.
. "$(dirname "$0")/lib.sh"
mport=$(af_free_port)
fifo="$AF_TMP/log.fifo"; mkfifo "$fifo"
# The reader takes a little, then goes away: later log writes hit a closed pipe.
head -c 300 <"$fifo" >/dev/null &
reader=$!
ANTHROPIC_API_KEY=sk-test "$AF_BIN/agentd" --id ag_sigpipe --manager "tcp://127.0.0.1:$mport" \
  --heartbeat-ms 100 --log-level debug >"$fifo" 2>&1 &
agent=$!
_af_pids+=("$agent")
wait "$reader" || true
sleep 0.5
# Its shutdown logs now go to a pipe nobody reads: it must still exit 0, not
# die of SIGPIPE (status 141).
kill -TERM "$agent"
rc=0; wait "$agent" || rc=$?
[ "$rc" -eq 0 ] || af_fail "agentd exited with status $rc after its log pipe closed (141 = SIGPIPE)"
echo "agentd survived a closed log pipe and stopped cleanly"
