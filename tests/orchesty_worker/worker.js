// A remote worker built on Orchesty's Node.js SDK, started by tests/orchesty_worker/harness.py on APP_PORT.
// Its nodes answer each result code the way Orchesty workers do; GET /test/calls lists what it received.
process.env.CRYPT_SECRET ??= "flowyard-test-secret";
// The SDK insists on these; none of the nodes below calls Orchesty's backend, so nothing listens there.
process.env.BACKEND_URL ??= "http://127.0.0.1:9";
process.env.STARTING_POINT_URL ??= "http://127.0.0.1:9";
process.env.WORKER_API_HOST ??= "http://127.0.0.1:9";

const sdk = require("@orchesty/nodejs-sdk");
const ACommonNode = require("@orchesty/nodejs-sdk/dist/lib/Commons/ACommonNode").default;
const ABatchNode = require("@orchesty/nodejs-sdk/dist/lib/Batch/ABatchNode").default;
const OnStopAndFailException = require("@orchesty/nodejs-sdk/dist/lib/Exception/OnStopAndFailException").default;

const calls = [];

function record(node, dto) {
  calls.push({ node, headers: { ...dto.getHeaders() }, body: dto.getData(), at: Date.now() / 1000 });
}

// 1001: repeat until `times` hops were counted by the engine (repeat-hops comes back on each repeated call).
class Repeater extends ACommonNode {
  getName() { return "repeater"; }
  processAction(dto) {
    record(this.getName(), dto);
    const data = dto.getJsonData();
    const hops = Number(dto.getHeader("repeat-hops", "0"));
    if (hops < data.times) dto.setRepeater(data.interval ?? 1, data.maxHops ?? 10, `hop ${hops}`);
    return dto;
  }
}

// 1002: force the message to the followers named in the body, validated against worker-followers.
class Forwarder extends ACommonNode {
  getName() { return "forwarder"; }
  processAction(dto) {
    record(this.getName(), dto);
    dto.setForceFollowers(...dto.getJsonData().to);
    return dto;
  }
}

// 1004: the first call answers "limit exceeded" with a limiter key; calls that carry the key succeed.
class Limited extends ACommonNode {
  getName() { return "limited"; }
  processAction(dto) {
    record(this.getName(), dto);
    if (!dto.getHeader("limiter-key")) {
      const { key, seconds, amount } = dto.getJsonData();
      dto.setLimiter(key, seconds, amount);
      dto.setLimitExceeded("remote limit exceeded");
    }
    return dto;
  }
}

// 1006 and thrown errors: the result-message must reach the trash reason.
class Failer extends ACommonNode {
  getName() { return "failer"; }
  processAction(dto) {
    record(this.getName(), dto);
    const data = dto.getJsonData();
    if (data.throw) throw new Error(data.throw);
    throw new OnStopAndFailException(data.message ?? "refused");
  }
}

// 1010 / 0: two pages of three items; the page comes from the cursor header.
class Pages extends ABatchNode {
  getName() { return "pages"; }
  processAction(dto) {
    record(this.getName(), dto);
    const page = Number(dto.getBatchCursor("0"));
    for (let i = 0; i < 3; i += 1) dto.addItem({ page, item: i, parent: dto.getData() });
    if (page < 1) dto.setBatchCursor(String(page + 1));
    return dto;
  }
}

sdk.initiateContainer();
sdk.container.setCustomNode(new Repeater());
sdk.container.setCustomNode(new Forwarder());
sdk.container.setCustomNode(new Limited());
sdk.container.setCustomNode(new Failer());
sdk.container.setBatch(new Pages());
sdk.expressApp.get("/test/calls", (req, res) => res.json(calls));
sdk.expressApp.delete("/test/calls", (req, res) => { calls.length = 0; res.json([]); });
sdk.listen();
