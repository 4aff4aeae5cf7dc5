// Signs in to the holders' page with a token, reads what it shows and takes a screenshot.
// Usage: node holder_page.mjs <base url> <token> <screenshot path>
// Prints one JSON object: the party, the warrants' rows, the chart's bars, the report links
// and the answer of the first report link (fetched with the page's session cookie).
import { chromium } from "playwright-core";

const [base, token, screenshot] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
});
try {
  const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
  await page.goto(`${base}/app`);
  await page.fill("#token", token);
  await Promise.all([page.waitForURL(`${base}/app/holdings`), page.click("#sign-in")]);
  const party = await page.textContent("#party");
  const rows = await page.$$eval("#warrants tr.warrant", (trs) =>
    trs.map((tr) => Array.from(tr.querySelectorAll("td"), (td) => td.textContent.trim())));
  const bars = await page.$$eval("#emissions-chart g.bar", (gs) =>
    gs.map((g) => ({ brand: g.dataset.brand, text: g.textContent })));
  const reports = await page.$$eval("#reports a.report", (as) =>
    as.map((a) => ({ label: a.textContent, href: a.getAttribute("href") })));
  const first = reports.length ? await page.request.get(`${base}${reports[0].href}`) : null;
  const download = first ? { status: first.status(), type: first.headers()["content-type"] } : null;
  await page.screenshot({ path: screenshot, fullPage: true });
  console.log(JSON.stringify({ party, rows, bars, reports, download }));
} finally {
  await browser.close();
}
