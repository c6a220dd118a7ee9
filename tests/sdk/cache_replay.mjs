#!/usr/bin/env node
// A cached reply replayed through the official SDK (@anthropic-ai/sdk): one
// non-streaming create and one stream of the same temperature-0 request, both
// asking the gateway's cache (header x-agentfleet-cache: on). Prints one JSON
// line: {create: {text, id, cache}, stream: {text, events, cache, usage}};
// exits 1 when the SDK cannot parse either.
//   node cache_replay.mjs BASE_URL API_KEY PROMPT
import Anthropic from '@anthropic-ai/sdk';

const [baseURL, apiKey, prompt] = process.argv.slice(2);
const client = new Anthropic({ baseURL, apiKey, maxRetries: 0 });
const params = {
  model: 'claude-3-5-haiku-20241022',
  max_tokens: 64,
  temperature: 0,
  messages: [{ role: 'user', content: prompt }],
};
const opts = { headers: { 'x-agentfleet-cache': 'on' } };
try {
  const c = await client.messages.create(params, opts).withResponse();
  const create = {
    text: c.data.content.map((b) => b.text).join(''),
    id: c.data.id,
    cache: c.response.headers.get('x-agentfleet-cache'),
  };
  const s = await client.messages.create({ ...params, stream: true }, opts).withResponse();
  const events = [];
  let text = '';
  let usage = null;
  for await (const ev of s.data) {
    events.push(ev.type);
    if (ev.type === 'content_block_delta' && ev.delta.type === 'text_delta') text += ev.delta.text;
    if (ev.type === 'message_delta') usage = ev.usage;
  }
  const stream = { text, events, usage, cache: s.response.headers.get('x-agentfleet-cache') };
  console.log(JSON.stringify({ create, stream }));
} catch (e) {
  console.log(JSON.stringify({ error: String(e), status: e.status }));
  process.exit(1);
}
