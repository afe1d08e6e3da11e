"""The ten-step shop journey of fixtures/scenarios/shop-journey.yaml, for Locust's FastHttpUser.

Used by bench/run.sh to compare CPU per request with throng on the same journey. It does the
same work as the YAML, step for step: the same requests (with the scenario's default
`accept: application/json` header), the same extractions, and the same checks (status codes,
the JSON equality/comparison/regex checks, and the `view order` schema — `type: object`,
`required: [id, status]` — written out by hand, as a Locust user would). A response body is
parsed as JSON only on the steps where the YAML has a JSON check or extractor.
"""
import itertools
import os
import re
import uuid

from locust import FastHttpUser, task

PASSWORD = os.environ.get("SHOP_PASSWORD", "SecurePass123!")
ACCEPT = {"accept": "application/json"}
ANY_CHAR = re.compile(".")
_vu_numbers = itertools.count(1)


class CheckFailed(Exception):
    pass


def check(cond, what):
    if not cond:
        raise CheckFailed(what)


def jpath(doc, *keys):
    """`$.a.b[0]`-style lookup; None when it matches nothing."""
    for k in keys:
        try:
            doc = doc[k]
        except (KeyError, IndexError, TypeError):
            return None
    return doc


class Shopper(FastHttpUser):
    wait_time = lambda self: 0  # noqa: E731 - no think time, as throng's --no-think

    def on_start(self):
        self.vu = next(_vu_numbers)

    def step(self, method, path, status, judge=None, name=None, headers=ACCEPT, json=None):
        """One request with its checks; returns judge's result, or raises CheckFailed."""
        with self.client.request(method, path, name=name, headers=headers, json=json, catch_response=True) as r:
            try:
                check(r.status_code == status, f"status {r.status_code} != {status}")
                out = judge(r.json()) if judge else None
            except (CheckFailed, ValueError, KeyError, IndexError, TypeError) as e:
                r.failure(str(e))
                raise CheckFailed(str(e)) from None
            r.success()
            return out

    @task
    def journey(self):
        try:
            self.iteration()
        except CheckFailed:
            pass  # like throng: a failed step ends the iteration

    def iteration(self):
        email = f"shopper-{uuid.uuid4()}@example.com"

        def register(d):
            check(jpath(d, "user", "email") == email, "$.user.email")
            return d["token"]

        token = self.step("POST", "/auth/register", 201, register,
                          json={"email": email, "password": PASSWORD, "name": f"Shopper {self.vu}"})
        auth = {"accept": "application/json", "authorization": "Bearer " + token}

        def browse(d):
            total = jpath(d, "total")
            check(isinstance(total, (int, float)) and not isinstance(total, bool) and total > 0, "$.total > 0")
            return d["products"][0]["id"], d["products"][1]["id"]

        product_id, second_product_id = self.step("GET", "/products?page=1&limit=20", 200, browse)
        self.step("GET", f"/products/{product_id}", 200,
                  lambda d: check(str(jpath(d, "id")) == str(product_id), "$.id"), name="/products/{id}")
        item_id = self.step("POST", "/cart/items", 201, lambda d: d["item"]["id"], headers=auth,
                            json={"product_id": product_id, "quantity": 1})
        self.step("GET", "/cart", 200,
                  lambda d: check(str(jpath(d, "items", 0, "product_id")) == str(product_id), "$.items[0].product_id"),
                  headers=auth)
        self.step("POST", "/cart/items", 201, headers=auth, json={"product_id": second_product_id, "quantity": 2})
        self.step("PUT", f"/cart/items/{item_id}", 200, headers=auth, json={"quantity": 3}, name="/cart/items/{id}")

        def updated(d):
            check(jpath(d, "items", 0, "quantity") == 3, "$.items[0].quantity == 3")
            return d["id"]

        cart_id = self.step("GET", "/cart", 200, updated, headers=auth)

        def checkout(d):
            c = jpath(d, "confirmation_number")
            check(c is not None and ANY_CHAR.search(c if isinstance(c, str) else str(c)), "$.confirmation_number")
            return d["order_id"]

        order_id = self.step("POST", "/checkout", 201, checkout, headers=auth, json={
            "cart_id": cart_id,
            "shipping_address": {"street": "1 Main St", "city": "Springfield", "state": "IL", "zip": "62701", "country": "US"},
            "payment": {"method": "card", "card_token": "tok_visa"},
        })
        # The YAML's schema check: type: object, required: [id, status].
        self.step("GET", f"/orders/{order_id}", 200,
                  lambda d: check(isinstance(d, dict) and "id" in d and "status" in d, "schema"),
                  headers=auth, name="/orders/{id}")
