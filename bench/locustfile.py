"""The ten-step shop journey of fixtures/scenarios/shop-journey.yaml, for Locust's FastHttpUser.

Used by bench/run.sh to compare CPU per request with throng on the same journey.
"""
import uuid

from locust import FastHttpUser, task


class Shopper(FastHttpUser):
    wait_time = lambda self: 0  # noqa: E731 - no think time, as throng's --no-think

    @task
    def journey(self):
        email = f"shopper-{uuid.uuid4()}@example.com"
        r = self.client.post("/auth/register", json={"email": email, "password": "SecurePass123!", "name": "Bench Shopper"})
        if r.status_code != 201:
            return
        auth = {"Authorization": "Bearer " + r.json()["token"]}
        r = self.client.get("/products?page=1&limit=20")
        products = [p["id"] for p in r.json()["products"]]
        self.client.get(f"/products/{products[0]}", name="/products/{id}")
        r = self.client.post("/cart/items", json={"product_id": products[0], "quantity": 1}, headers=auth)
        item_id = r.json()["item"]["id"]
        r = self.client.get("/cart", headers=auth)
        cart_id = r.json()["id"]
        self.client.post("/cart/items", json={"product_id": products[1], "quantity": 2}, headers=auth)
        self.client.put(f"/cart/items/{item_id}", json={"quantity": 3}, headers=auth, name="/cart/items/{id}")
        self.client.get("/cart", headers=auth)
        r = self.client.post(
            "/checkout",
            json={
                "cart_id": cart_id,
                "shipping_address": {"street": "1 Main St", "city": "Springfield", "state": "IL", "zip": "62701", "country": "US"},
                "payment": {"method": "card", "card_token": "tok_visa"},
            },
            headers=auth,
        )
        order_id = r.json()["order_id"]
        self.client.get(f"/orders/{order_id}", headers=auth, name="/orders/{id}")
