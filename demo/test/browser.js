// make demo-test: the running demo (demo/run.sh) in headless Chromium.
//   node demo/test/browser.js http://127.0.0.1:PORT [SCREENSHOT_DIR]
// Debian's /usr/bin/chromium (CHROMIUM= to use another) through
// playwright-core, with a desktop browser User-Agent (HeadlessChrome
// counts as a bot and would see the plain site), a fresh profile.
// Visitors see the copy the rules give them, in the HTML of the first
// response (no script needed); the dashboard moves with traffic once the
// module serves persona_metrics.  TAP output; exit 1 when a check fails.
"use strict";
const fs = require("node:fs");
const path = require("node:path");
const { chromium } = require("playwright-core");

const base = (process.argv[2] || "").replace(/\/$/, "");
const shots = process.argv[3] || path.join(__dirname, "..", "..", "build", "demo-test");
const UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
         + "Chrome/131.0.0.0 Safari/537.36";
const ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
              "--disable-component-update", "--disable-sync", "--no-first-run",
              "--disable-dev-shm-usage"];

if (!/^https?:\/\//.test(base)) {
    console.error("usage: node browser.js http://127.0.0.1:PORT [SCREENSHOT_DIR]");
    process.exit(2);
}
fs.mkdirSync(shots, { recursive: true });

let n = 0, failed = 0;
function ok(cond, name, detail) {
    n++;
    if (cond) {
        console.log(`ok ${n} - ${name}`);
    } else {
        failed++;
        console.log(`not ok ${n} - ${name}`);
        if (detail !== undefined) console.log(`#   ${String(detail).replace(/\n/g, "\n#   ")}`);
    }
    return cond;
}
function skip(name, why) {
    n++;
    console.log(`ok ${n} - ${name} # SKIP ${why}`);
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function text(page, sel) {
    const el = await page.$(sel);
    return el ? (await el.innerText()).trim() : null;
}

// a visitor: a new browser context (own cookies), the visit, checks
async function visit(browser, v) {
    const ctx = await browser.newContext({
        userAgent: UA, viewport: { width: 1200, height: 900 },
        extraHTTPHeaders: v.headers || {},
    });
    const page = await ctx.newPage();
    let resp;
    if (v.as) {
        // the demo's switch link: sets the cookie, 302 to the home page
        resp = await page.goto(`${base}/persona-demo/as/${v.as}`);
    } else {
        resp = await page.goto(base + (v.path || "/"));
    }
    const html = await resp.text();
    const h1 = await text(page, "main h1");
    const body = await text(page, "main");
    const seg = await text(page, "#demo-segment");
    const layer = await text(page, "#persona-layer");
    const headers = resp.headers();
    await page.screenshot({ path: path.join(shots, `visitor-${v.name}.png`), fullPage: true });

    ok(resp.status() === 200, `${v.name}: 200`, resp.status());
    ok(seg === v.segment, `${v.name}: segment ${v.segment}`, `got ${seg}`);
    for (const want of v.sees) {
        ok(body.includes(want), `${v.name}: sees "${want}"`, `visible text: ${body.slice(0, 400)}`);
        // server-side: the copy is in the HTML nginx sent, no script put it there
        ok(html.includes(want.replace(/'/g, "&#39;")), `${v.name}: "${want}" in the first response's HTML`);
    }
    for (const not of v.notSees || []) {
        ok(!body.includes(not), `${v.name}: does not see "${not}"`);
    }
    ok(layer && JSON.parse(layer).segment === v.segment,
       `${v.name}: the data layer names the segment`, layer);
    if (v.url) {
        ok(page.url() === base + v.url, `${v.name}: the address bar shows ${v.url}`, page.url());
    }
    const out = { h1, headers, ctx, page };
    if (v.after) await v.after(out);
    await ctx.close();
    return out;
}

async function metricsState(request) {
    try {
        const r = await request.get(`${base}/persona-demo/metrics`);
        const body = await r.text();
        return { live: r.status() === 200 && /^persona_\w+/m.test(body), status: r.status(), body };
    } catch (e) {
        return { live: false, status: 0, body: String(e) };
    }
}

async function dashboard(browser) {
    const ctx = await browser.newContext({ userAgent: UA, viewport: { width: 1400, height: 1000 } });
    const page = await ctx.newPage();
    const m = await metricsState(ctx.request);
    const resp = await page.goto(`${base}/persona-demo/dashboard`);
    ok(resp.status() === 200, "dashboard: 200");
    ok((await page.$$("script[src^='http']")).length === 0 &&
       (await page.$$("link[href^='http']")).length === 0,
       "dashboard: nothing from another host (no CDN)");
    await page.waitForFunction(() => window.personaDashboard &&
        (window.personaDashboard.scrapes > 0 || window.personaDashboard.errors > 0),
        null, { timeout: 10000 });

    if (m.live) {
        await page.waitForFunction(() => window.personaDashboard.scrapes > 0, null,
                                   { timeout: 10000 });
        const before = Number((await text(page, "#total-requests")).replace(/[^\d.]/g, ""));
        // traffic the dashboard must see: 20 visitors' page views
        for (let i = 0; i < 20; i++) {
            await ctx.request.get(`${base}/`, { headers: { "User-Agent": UA,
                Cookie: `persona_id=${["alice", "bob", "carol", "dana", "erin"][i % 5]}` } });
        }
        let after = before;
        for (let t = 0; t < 20 && after <= before; t++) {
            await sleep(500);
            after = Number((await text(page, "#total-requests")).replace(/[^\d.]/g, ""));
        }
        ok(after > before, "dashboard: the request count moves after traffic",
           `${before} -> ${after}`);
        await sleep(2500);
        const bars = await page.$$("#chart-status rect");
        ok(bars.length > 0, "dashboard: requests by lookup status drawn");
        const segs = await page.$$eval("#chart-segments text", (t) => t.map((x) => x.textContent));
        ok(segs.includes("vip"), "dashboard: visitors per segment drawn (vip among them)",
           segs.join(", "));
        ok(/closed|open/.test(await text(page, "#breaker")), "dashboard: breaker state shown");
        await page.screenshot({ path: path.join(shots, "dashboard.png"), fullPage: true });
    } else {
        ok(/not available/.test(await text(page, "#state")),
           "dashboard: says the metrics are not available", await text(page, "#state"));
        skip("dashboard: the request count moves after traffic",
             `the metrics location answers ${m.status} (no persona_metrics in this build)`);
        await page.screenshot({ path: path.join(shots, "dashboard-no-metrics.png"), fullPage: true });
    }

    // the built-in sample: the parser and drawing in the browser
    await page.goto(`${base}/persona-demo/dashboard?sample=1`);
    await page.waitForFunction(() => window.personaDashboard.scrapes >= 3, null,
                               { timeout: 15000 });
    ok(/Sample data/.test(await text(page, "#state")), "dashboard sample: scraped");
    const p99 = await text(page, "#p99");
    ok(/^\d+(\.\d+)? ms$/.test(p99), "dashboard sample: Redis p99 from the buckets", p99);
    ok((await text(page, "#breaker")) === "closed", "dashboard sample: breaker closed");
    const vtexts = await page.$$eval("#chart-variants text", (t) => t.map((x) => x.textContent));
    ok(vtexts.includes("headline / urgency") && vtexts.includes("goal purchase"),
       "dashboard sample: exposures per variant and conversions", vtexts.join(", "));
    const t1 = await text(page, "#total-requests");
    await page.waitForFunction((v) => document.getElementById("total-requests").textContent !== v,
                               t1, { timeout: 6000 }).catch(() => {});
    ok((await text(page, "#total-requests")) !== t1, "dashboard sample: numbers move");
    await page.screenshot({ path: path.join(shots, "dashboard-sample.png"), fullPage: true });
    await ctx.close();
    return m.live;
}

async function main() {
    const browser = await chromium.launch({
        executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
        headless: true, args: ARGS,
    });
    console.log(`# ${browser.version()} against ${base}, screenshots in ${shots}`);
    const seen = {};
    try {
        // the visitor list, clicked through like a person would
        {
            const ctx = await browser.newContext({ userAgent: UA });
            const page = await ctx.newPage();
            await page.goto(`${base}/persona-demo/`);
            const names = await page.$$eval("a.as", (a) => a.map((x) => x.textContent));
            ok(["alice", "bob", "nobody"].every((x) => names.includes(x)),
               "visitor list: alice, bob and nobody", names.join(", "));
            await page.screenshot({ path: path.join(shots, "visitors.png"), fullPage: true });
            await page.click("a.as >> text=alice");
            await page.waitForLoadState();
            ok((await text(page, "main h1")) === "Welcome back, Alice",
               "visitor list: clicking alice shows her page", await text(page, "main h1"));
            await ctx.close();
        }

        const visitors = [
            { name: "alice", as: "alice", segment: "vip", url: "/",
              sees: ["Welcome back, Alice", "Alice, express shipping is on us"],
              after: async (v) => {
                  await v.page.goto(`${base}/product/longjing.html`);
                  ok((await text(v.page, "main")).includes("Member price"),
                     "alice: member price on the product page");
              } },
            { name: "bob", as: "bob", segment: "big-spender",
              sees: ["Thank you for shopping with us, Bob", "Your next order ships free."] },
            { name: "carol", as: "carol", segment: "cart-abandoner",
              sees: ["You left 2 item(s) in your cart."] },
            { name: "nobody", as: "nobody", segment: "newcomer",
              sees: ["Sign up today and get 10% off."], notSees: ["Welcome back"] },
            { name: "douyin", path: "/?utm_source=douyin&utm_medium=live&utm_campaign=spring-harvest",
              segment: "douyin", url: "/?utm_source=douyin&utm_medium=live&utm_campaign=spring-harvest",
              sees: ["Straight from the Douyin live stream", "Campaign page"] },
            { name: "xiaohongshu", path: "/?utm_source=xiaohongshu&utm_medium=social",
              segment: "xiaohongshu", sees: ["The teas from the Xiaohongshu notes you saved"] },
            { name: "wechat", path: "/?utm_source=wechat&utm_medium=article",
              segment: "wechat", sees: ["Welcome, WeChat reader"] },
            { name: "shanghai", as: "dana", headers: { "X-Forwarded-For": "203.0.113.7" },
              segment: "shanghai", sees: ["Same-day delivery in Shanghai"] },
            { name: "dana", as: "dana", segment: "everyone",
              sees: ["Tea from the misty hills of Hangzhou"], notSees: ["Same-day"] },
        ];
        for (const v of visitors) {
            seen[v.name] = await visit(browser, v);
        }
        const h1s = ["alice", "bob", "nobody", "dana"].map((x) => seen[x].h1);
        ok(new Set(h1s).size === 4, "four visitors, four different headlines", h1s.join(" | "));

        // the headline test with its cap: erin is in the urgency variant
        {
            const ctx = await browser.newContext({ userAgent: UA });
            const page = await ctx.newPage();
            let r = await page.goto(`${base}/persona-demo/as/erin`);
            const first = r.headers()["x-persona-variants"];
            ok(first === "headline=urgency" || first === "headline=urgency-capped",
               "erin: in the headline test, urgency variant", first);
            let capped = first === "headline=urgency-capped", last = first;
            for (let i = 0; i < 5 && !capped; i++) {
                await sleep(300);  // tracking writes the counter after the response
                r = await page.goto(`${base}/`);
                last = r.headers()["x-persona-variants"];
                capped = last === "headline=urgency-capped";
            }
            if (capped) {
                ok((await text(page, "main h1")) === "Tea from the misty hills of Hangzhou",
                   "erin: past the cap, the control headline");
            } else {
                skip("erin: past the cap, the control headline",
                     `still ${last} after 6 views (caps not in this build)`);
            }
            await page.screenshot({ path: path.join(shots, "visitor-erin.png"), fullPage: true });
            await ctx.close();
        }

        // the newsletter link redirects; the order-complete page (a goal) answers
        {
            const ctx = await browser.newContext({ userAgent: UA });
            const page = await ctx.newPage();
            await page.goto(`${base}/persona-demo/as/dana`);
            await page.goto(`${base}/newsletter?utm_medium=email&utm_campaign=spring-letter`);
            ok(page.url().startsWith(`${base}/product/longjing.html?`),
               "newsletter: redirected to the product page, the tags kept", page.url());
            await page.click("#buy");
            await page.waitForLoadState();
            ok((await text(page, "main h1")) === "Thank you, your order is on its way",
               "product page: Buy now reaches the order-complete page (the purchase goal)");
            await ctx.close();
        }

        // no script needed: the same page with JavaScript off
        {
            const ctx = await browser.newContext({ userAgent: UA, javaScriptEnabled: false });
            const page = await ctx.newPage();
            await page.goto(`${base}/persona-demo/as/bob`);
            ok((await text(page, "main h1")) === "Thank you for shopping with us, Bob",
               "bob with JavaScript off: the same headline");
            await ctx.close();
        }

        // a crawler's User-Agent: the plain site
        {
            const ctx = await browser.newContext({ userAgent: "Mozilla/5.0 (compatible; Googlebot/2.1)" });
            const page = await ctx.newPage();
            await ctx.addCookies([{ name: "persona_id", value: "alice", url: base }]);
            await page.goto(`${base}/`);
            ok((await text(page, "#demo-segment")) === "bot" &&
               (await text(page, "main h1")) === "Tea from the misty hills of Hangzhou",
               "a crawler with alice's cookie sees the plain site");
            await ctx.close();
        }

        await dashboard(browser);
    } finally {
        await browser.close();
    }
    console.log(`1..${n}`);
    console.log(`# ${n} checks, ${failed} failed; screenshots in ${shots}`);
    process.exit(failed ? 1 : 0);
}

main().catch((e) => {
    console.log(`not ok ${n + 1} - the browser test ran to its end`);
    console.log(`#   ${e.stack || e}`);
    process.exit(1);
});
