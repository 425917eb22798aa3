// Runs megalodon against a Kith server the way a megalodon-based app starts: detect the server
// software, then use the client for it. Prints one JSON line for tests/test_megalodon.py.
// Usage: node client.mjs BASE_URL ACCESS_TOKEN STATUS_TEXT
import megalodon from 'megalodon';

// megalodon is CommonJS: its exports object holds `default` (the generator) and `detector`.
const { default: generator, detector } = megalodon;

const [baseUrl, token, text] = process.argv.slice(2);
const sns = await detector(baseUrl);
const client = generator(sns, baseUrl, token);
const before = await client.getHomeTimeline();
const posted = await client.postStatus(text);
const after = await client.getHomeTimeline({ limit: 5 });
const me = await client.verifyAccountCredentials();
console.log(
  JSON.stringify({
    sns,
    homeBefore: before.data.length,
    posted: { id: posted.data.id, content: posted.data.content },
    homeAfter: after.data.map((status) => status.id),
    me: me.data.username,
  }),
);
