// throng shop storefront: plain DOM + fetch, no build step.
// The token lives in sessionStorage so a reload keeps the session but a new tab doesn't.
"use strict";

const state = {
  token: sessionStorage.getItem("throng.token"),
  user: JSON.parse(sessionStorage.getItem("throng.user") || "null"),
  cart: null,
  page: 1,
  totalPages: 1,
  product: null,
};

const $ = (id) => document.getElementById(id);
const money = (n) => "$" + Number(n).toFixed(2);
const views = ["auth-view", "products-view", "product-view", "cart-view", "checkout-view", "order-view", "orders-view"];

function show(view) {
  for (const v of views) $(v).classList.toggle("hidden", v !== view);
  document.body.dataset.view = view;
}

function say(text, kind) {
  const m = $("message");
  m.textContent = text || "";
  m.className = kind || "";
}

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(e.dataset, v);
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (state.token) headers.Authorization = "Bearer " + state.token;
  const resp = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const data = await resp.json().catch(() => ({}));
  if (resp.status === 401 && state.token && !path.startsWith("/auth/")) signedOut();
  if (!resp.ok) throw new Error(data.error || resp.status + " " + resp.statusText);
  return data;
}

function signedIn(data) {
  state.token = data.token;
  state.user = data.user;
  sessionStorage.setItem("throng.token", data.token);
  sessionStorage.setItem("throng.user", JSON.stringify(data.user));
  renderUser();
}

function signedOut() {
  state.token = null;
  state.user = null;
  state.cart = null;
  sessionStorage.removeItem("throng.token");
  sessionStorage.removeItem("throng.user");
  renderUser();
  $("cart-count").textContent = "0";
  show("auth-view");
}

function renderUser() {
  $("user-label").textContent = state.user ? state.user.name + " <" + state.user.email + ">" : "not signed in";
  $("logout-button").classList.toggle("hidden", !state.user);
}

function needAuth() {
  if (state.token) return true;
  say("Please register or sign in first.", "error");
  show("auth-view");
  return false;
}

// ---- products ----

async function loadProducts(page) {
  state.page = page || 1;
  const q = new URLSearchParams({ page: state.page, limit: 12 });
  const search = $("search-input").value.trim();
  const category = $("category-select").value;
  if (search) q.set("search", search);
  if (category) q.set("category", category);
  const data = await api("GET", "/products?" + q);
  state.totalPages = Math.max(1, data.total_pages);
  const list = $("product-list");
  list.replaceChildren(...data.products.map((p) =>
    el("div", { class: "card", "data-testid": "product-card", "data-product-id": p.id, onclick: () => openProduct(p.id) },
      el("img", { src: p.image_url, alt: "", width: "160", height: "120" }),
      el("div", { class: "product-name" }, p.name),
      el("div", { class: "price" }, money(p.price)),
      el("div", { class: "muted" }, p.category))));
  if (!data.products.length) list.append(el("p", { class: "muted" }, "No products match."));
  $("page-info").textContent = "Page " + data.page + " of " + state.totalPages + " (" + data.total + " products)";
  $("prev-page").disabled = state.page <= 1;
  $("next-page").disabled = state.page >= state.totalPages;
  show("products-view");
}

async function openProduct(id) {
  const p = await api("GET", "/products/" + encodeURIComponent(id));
  state.product = p;
  $("product-detail").replaceChildren(
    el("img", { src: p.image_url, alt: "", width: "240", height: "180" }),
    el("h2", { id: "product-name", "data-testid": "product-name" }, p.name),
    el("p", {}, p.description),
    el("p", {}, el("span", { class: "price", id: "product-price", "data-testid": "product-price" }, money(p.price)),
      " · ", el("span", { class: "muted" }, p.category + " · " + p.stock + " in stock")));
  $("add-quantity").value = "1";
  show("product-view");
}

async function addToCart() {
  if (!needAuth() || !state.product) return;
  const quantity = parseInt($("add-quantity").value, 10) || 1;
  const data = await api("POST", "/cart/items", { product_id: state.product.id, quantity });
  state.cart = data.cart;
  $("cart-count").textContent = String(data.cart.items.length);
  say("Added " + data.item.quantity + " × " + state.product.name + " to your cart.", "ok");
}

// ---- cart ----

function renderCart(cart) {
  state.cart = cart;
  $("cart-count").textContent = String(cart.items.length);
  $("cart-items").replaceChildren(...cart.items.map((it) => {
    const qty = el("input", { type: "number", min: "1", value: String(it.quantity), "data-testid": "cart-item-quantity", "aria-label": "quantity" });
    return el("tr", { "data-testid": "cart-item", "data-item-id": it.id },
      el("td", {}, it.name || it.product_id),
      el("td", {}, qty, " ",
        el("button", { class: "secondary", "data-testid": "cart-item-update", onclick: () => run(() => updateItem(it.id, qty.value)) }, "Update")),
      el("td", { class: "num" }, money(it.price)),
      el("td", { class: "num" }, money(it.subtotal)),
      el("td", { class: "num" },
        el("button", { class: "secondary", "data-testid": "cart-item-remove", onclick: () => run(() => removeItem(it.id)) }, "Remove")));
  }));
  if (!cart.items.length) $("cart-items").append(el("tr", {}, el("td", { colspan: "5", class: "muted" }, "Your cart is empty.")));
  $("cart-subtotal").textContent = money(cart.subtotal);
  $("cart-tax").textContent = money(cart.tax);
  $("cart-shipping").textContent = money(cart.shipping);
  $("cart-total").textContent = money(cart.total);
  $("go-checkout").disabled = !cart.items.length;
}

async function showCart() {
  if (!needAuth()) return;
  renderCart(await api("GET", "/cart"));
  show("cart-view");
}

async function updateItem(id, quantity) {
  renderCart(await api("PUT", "/cart/items/" + encodeURIComponent(id), { quantity: parseInt(quantity, 10) }));
  say("Cart updated.", "ok");
}

async function removeItem(id) {
  await api("DELETE", "/cart/items/" + encodeURIComponent(id));
  await showCart();
  say("Item removed.", "ok");
}

// ---- checkout & orders ----

async function placeOrder() {
  if (!needAuth()) return;
  if (!state.cart) state.cart = await api("GET", "/cart");
  const address = {
    street: $("ship-street").value, city: $("ship-city").value, state: $("ship-state").value,
    zip: $("ship-zip").value, country: $("ship-country").value,
  };
  const placed = await api("POST", "/checkout", {
    cart_id: state.cart.id,
    shipping_address: address,
    payment: { method: "card", card_token: $("card-token").value.trim() },
  });
  $("cart-count").textContent = "0";
  state.cart = null;
  say("Order placed: " + placed.confirmation_number, "ok");
  await showOrder(placed.order_id);
}

async function showOrder(id) {
  const o = await api("GET", "/orders/" + encodeURIComponent(id));
  $("order-id").textContent = o.id;
  $("order-status").textContent = o.status;
  $("order-confirmation").textContent = o.confirmation_number;
  $("order-items").replaceChildren(...o.items.map((it) =>
    el("tr", { "data-testid": "order-item" }, el("td", {}, it.name), el("td", {}, "× " + it.quantity), el("td", { class: "num" }, money(it.subtotal)))));
  $("order-total").textContent = money(o.total);
  const a = o.shipping_address;
  $("order-address").textContent = "Ships to " + [a.street, a.city, a.state, a.zip, a.country].join(", ");
  show("order-view");
}

async function showOrders() {
  if (!needAuth()) return;
  const data = await api("GET", "/orders");
  $("orders-list").replaceChildren(...data.orders.map((o) =>
    el("tr", { "data-testid": "orders-row", "data-order-id": o.id },
      el("td", {}, el("a", { href: "#", onclick: (e) => { e.preventDefault(); run(() => showOrder(o.id)); } }, o.id)),
      el("td", {}, o.confirmation_number), el("td", {}, o.created_at.slice(0, 16).replace("T", " ")),
      el("td", { class: "num" }, money(o.total)))));
  if (!data.orders.length) $("orders-list").append(el("tr", {}, el("td", { class: "muted" }, "No orders yet.")));
  show("orders-view");
}

// Every UI action goes through here so failures show up as a message, not a console error.
async function run(fn) {
  try {
    say("");
    await fn();
  } catch (err) {
    say(err.message, "error");
  }
}

function onSubmit(id, fn) {
  $(id).addEventListener("submit", (e) => { e.preventDefault(); run(fn); });
}

onSubmit("register-form", async () => {
  signedIn(await api("POST", "/auth/register", {
    name: $("register-name").value.trim(), email: $("register-email").value.trim(), password: $("register-password").value,
  }));
  say("Welcome, " + state.user.name + "!", "ok");
  await loadProducts(1);
});
onSubmit("login-form", async () => {
  signedIn(await api("POST", "/auth/login", { email: $("login-email").value.trim(), password: $("login-password").value }));
  say("Signed in.", "ok");
  await loadProducts(1);
});
onSubmit("search-form", () => loadProducts(1));
onSubmit("checkout-form", placeOrder);

$("home-link").addEventListener("click", (e) => { e.preventDefault(); run(() => (state.token ? loadProducts(1) : show("auth-view"))); });
$("nav-products").addEventListener("click", () => run(() => loadProducts(state.page)));
$("nav-cart").addEventListener("click", () => run(showCart));
$("nav-orders").addEventListener("click", () => run(showOrders));
$("prev-page").addEventListener("click", () => run(() => loadProducts(state.page - 1)));
$("next-page").addEventListener("click", () => run(() => loadProducts(state.page + 1)));
$("back-to-products").addEventListener("click", () => run(() => loadProducts(state.page)));
$("add-to-cart").addEventListener("click", () => run(addToCart));
$("go-checkout").addEventListener("click", () => show("checkout-view"));
$("logout-button").addEventListener("click", () => run(async () => {
  await api("POST", "/auth/logout").catch(() => {});
  signedOut();
  say("Signed out.", "ok");
}));

renderUser();
if (state.token) run(() => loadProducts(1));
else show("auth-view");
