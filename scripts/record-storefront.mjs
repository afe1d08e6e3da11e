// Drives the storefront like a person would (with pauses) and records a HAR.
// Run via scripts/record-storefront-har.sh, which sets the environment below.
import { createRequire } from "node:module";

const require = createRequire(process.env.PLAYWRIGHT_DIR.replace(/\/?$/, "/"));
const { chromium } = require("playwright-core");

const base = process.env.SHOP_URL;
const pause = () => new Promise((r) => setTimeout(r, 500 + Math.random() * 1000));

const context = await chromium.launchPersistentContext(process.env.USER_DATA_DIR, {
  executablePath: process.env.CHROMIUM,
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  recordHar: { path: process.env.HAR_OUT, content: "embed", mode: "full" },
  viewport: { width: 1200, height: 900 },
});

try {
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(15000);
  const byId = (id) => page.getByTestId(id);
  const waitFor = (method, re) =>
    page.waitForResponse((r) => r.request().method() === method && re.test(new URL(r.url()).pathname));

  await page.goto(base + "/");
  await pause();

  // Register.
  const stamp = Date.now().toString(36);
  await byId("register-name").fill("Pat Shopper");
  await pause();
  await byId("register-email").fill(`pat.${stamp}@example.com`);
  await byId("register-password").fill("hunter2-" + stamp);
  await pause();
  await Promise.all([waitFor("GET", /^\/products$/), byId("register-submit").click()]);
  await byId("products-view").waitFor();
  await pause();

  // Browse: next page, then back to the first.
  await Promise.all([waitFor("GET", /^\/products$/), byId("next-page").click()]);
  await pause();

  // Search and open a product, add it.
  await byId("search-input").fill("headphones");
  await pause();
  await Promise.all([waitFor("GET", /^\/products$/), byId("search-submit").click()]);
  await pause();
  await Promise.all([waitFor("GET", /^\/products\/prod-\d+$/), byId("product-card").first().click()]);
  await pause();
  await Promise.all([waitFor("POST", /^\/cart\/items$/), byId("add-to-cart").click()]);
  await pause();

  // Back, filter by category, open another product, add two of it.
  await Promise.all([waitFor("GET", /^\/products$/), byId("back-to-products").click()]);
  await byId("search-input").fill("");
  await byId("category-select").selectOption("books");
  await pause();
  await Promise.all([waitFor("GET", /^\/products$/), byId("search-submit").click()]);
  await pause();
  await Promise.all([waitFor("GET", /^\/products\/prod-\d+$/), byId("product-card").nth(1).click()]);
  await pause();
  await byId("add-quantity").fill("2");
  await Promise.all([waitFor("POST", /^\/cart\/items$/), byId("add-to-cart").click()]);
  await pause();

  // Cart: change the first line's quantity.
  await Promise.all([waitFor("GET", /^\/cart$/), byId("nav-cart").click()]);
  await pause();
  await byId("cart-item-quantity").first().fill("3");
  await pause();
  await Promise.all([waitFor("PUT", /^\/cart\/items\/item-\d+$/), byId("cart-item-update").first().click()]);
  await pause();

  // Checkout with the default address and tok_visa, then view the order.
  await byId("go-checkout").click();
  await pause();
  await Promise.all([waitFor("GET", /^\/orders\/order-\d+$/), byId("place-order").click()]);
  await byId("order-view").waitFor();
  const confirmation = await byId("order-confirmation").textContent();
  await pause();
  await Promise.all([waitFor("GET", /^\/orders$/), byId("nav-orders").click()]);
  await pause();
  await Promise.all([waitFor("GET", /^\/orders\/order-\d+$/), page.locator("[data-testid=orders-row] a").first().click()]);
  await pause();
  console.log("placed order " + confirmation);
} finally {
  await context.close(); // flushes the HAR
}
