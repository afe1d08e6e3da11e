//! Shared in-memory state: users, carts, orders and token revocations.
//!
//! Each collection has its own lock and critical sections are a few map
//! operations long, so concurrent virtual users never wait on one another for
//! long; nothing is held across an `.await`.

use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard,
    },
    time::Instant,
};

use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;

use crate::{catalog::Catalog, metrics::Metrics, timefmt};

pub type AppState = Arc<ShopState>;

#[derive(Debug)]
pub struct User {
    pub id: String,
    pub email: String,
    pub name: String,
    pub created_at: String,
    salt: [u8; 16],
    password_mac: Vec<u8>,
}

impl User {
    pub fn check_password(&self, password: &str) -> bool {
        password_mac(&self.salt, password)
            .verify_slice(&self.password_mac)
            .is_ok()
    }
}

fn password_mac(salt: &[u8], password: &str) -> Hmac<Sha256> {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(salt)
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(password.as_bytes());
    mac
}

#[derive(Default)]
pub struct Users {
    pub by_id: HashMap<String, Arc<User>>,
    pub by_email: HashMap<String, Arc<User>>,
}

#[derive(Debug, Clone)]
pub struct CartItem {
    pub id: String,
    pub product_id: String,
    pub name: String,
    pub quantity: u32,
    pub price_cents: i64,
}

#[derive(Debug, Clone)]
pub struct Cart {
    pub id: String,
    pub user_id: String,
    pub items: Vec<CartItem>,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Address {
    #[serde(default)]
    pub street: String,
    #[serde(default)]
    pub city: String,
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub zip: String,
    #[serde(default)]
    pub country: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct OrderItem {
    pub id: String,
    pub product_id: String,
    pub name: String,
    pub quantity: u32,
    pub price: f64,
    pub subtotal: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct PaymentSummary {
    pub method: String,
    pub card_brand: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Order {
    pub id: String,
    pub user_id: String,
    pub cart_id: String,
    pub items: Vec<OrderItem>,
    pub subtotal: f64,
    pub tax: f64,
    pub shipping: f64,
    pub total: f64,
    pub shipping_address: Address,
    pub billing_address: Address,
    pub payment: PaymentSummary,
    pub status: &'static str,
    pub confirmation_number: String,
    pub created_at: String,
}

#[derive(Default)]
pub struct Orders {
    pub by_id: HashMap<String, Arc<Order>>,
    pub by_user: HashMap<String, Vec<Arc<Order>>>,
}

pub struct ShopState {
    pub catalog: Catalog,
    pub users: RwLock<Users>,
    pub carts: Mutex<HashMap<String, Cart>>,
    pub orders: RwLock<Orders>,
    /// jti -> exp; entries past their expiry are pruned as the set grows.
    pub revoked: RwLock<HashMap<String, u64>>,
    pub jwt_key: [u8; 32],
    pub metrics: Metrics,
    pub started: Instant,
    pub seeded_csv: String,
    next_user: AtomicU64,
    next_cart: AtomicU64,
    next_item: AtomicU64,
    next_order: AtomicU64,
    confirmation_offset: u64,
}

/// A lock guard that shrugs off poisoning: a panic in one request must not
/// take the whole shop down for every later request.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
pub fn read<T>(m: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    m.read().unwrap_or_else(PoisonError::into_inner)
}
pub fn write<T>(m: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    m.write().unwrap_or_else(PoisonError::into_inner)
}

#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    #[error("email already registered")]
    Duplicate,
}

impl ShopState {
    pub fn new(seed_users: usize) -> Self {
        let state = ShopState {
            catalog: Catalog::seeded(),
            users: RwLock::new(Users::default()),
            carts: Mutex::new(HashMap::new()),
            orders: RwLock::new(Orders::default()),
            revoked: RwLock::new(HashMap::new()),
            jwt_key: rand::random(),
            metrics: Metrics::default(),
            started: Instant::now(),
            seeded_csv: String::new(),
            next_user: AtomicU64::new(1),
            next_cart: AtomicU64::new(1),
            next_item: AtomicU64::new(1),
            next_order: AtomicU64::new(1),
            confirmation_offset: rand::random::<u64>() % 100_000_000,
        };
        let mut csv = String::from("email,password,name\n");
        for n in 1..=seed_users {
            let email = format!("user{n}@example.com");
            let password = format!("Password{n}!");
            let name = format!("User {n}");
            // Seeding uses fixed salts so the CSV and the stored users are reproducible.
            let mut salt = [0u8; 16];
            salt[..8].copy_from_slice(&(n as u64).to_le_bytes());
            if state.insert_user(&email, &password, &name, salt).is_ok() {
                csv.push_str(&format!("{email},{password},{name}\n"));
            }
        }
        ShopState {
            seeded_csv: csv,
            ..state
        }
    }

    pub fn register(
        &self,
        email: &str,
        password: &str,
        name: &str,
    ) -> Result<Arc<User>, RegisterError> {
        self.insert_user(email, password, name, rand::random())
    }

    fn insert_user(
        &self,
        email: &str,
        password: &str,
        name: &str,
        salt: [u8; 16],
    ) -> Result<Arc<User>, RegisterError> {
        let key = email.to_lowercase();
        // Hash before taking the lock so registrations don't serialise on it.
        let mac = password_mac(&salt, password)
            .finalize()
            .into_bytes()
            .to_vec();
        let mut users = write(&self.users);
        if users.by_email.contains_key(&key) {
            return Err(RegisterError::Duplicate);
        }
        let n = self.next_user.fetch_add(1, Ordering::Relaxed);
        let user = Arc::new(User {
            id: format!("user-{n}"),
            email: key.clone(),
            name: name.to_owned(),
            created_at: timefmt::now_rfc3339(),
            salt,
            password_mac: mac,
        });
        users.by_id.insert(user.id.clone(), user.clone());
        users.by_email.insert(key, user.clone());
        Ok(user)
    }

    pub fn user_by_email(&self, email: &str) -> Option<Arc<User>> {
        read(&self.users)
            .by_email
            .get(&email.to_lowercase())
            .cloned()
    }

    pub fn user_by_id(&self, id: &str) -> Option<Arc<User>> {
        read(&self.users).by_id.get(id).cloned()
    }

    /// Runs `f` on the user's cart, creating the cart on first use.
    pub fn with_cart<R>(&self, user_id: &str, f: impl FnOnce(&mut Cart) -> R) -> R {
        let mut carts = lock(&self.carts);
        let cart = carts.entry(user_id.to_owned()).or_insert_with(|| Cart {
            id: format!("cart-{}", self.next_cart.fetch_add(1, Ordering::Relaxed)),
            user_id: user_id.to_owned(),
            items: Vec::new(),
        });
        f(cart)
    }

    pub fn next_item_id(&self) -> String {
        format!("item-{}", self.next_item.fetch_add(1, Ordering::Relaxed))
    }

    /// Returns (order id, confirmation number). Multiplying by a number coprime
    /// to 10^8 keeps confirmation numbers unique without a lookup.
    pub fn next_order_ids(&self) -> (String, String) {
        let n = self.next_order.fetch_add(1, Ordering::Relaxed);
        let conf = (n.wrapping_mul(7919).wrapping_add(self.confirmation_offset)) % 100_000_000;
        (format!("order-{n}"), format!("ORD-{conf:08}"))
    }

    pub fn insert_order(&self, order: Order) -> Arc<Order> {
        let order = Arc::new(order);
        let mut orders = write(&self.orders);
        orders.by_id.insert(order.id.clone(), order.clone());
        orders
            .by_user
            .entry(order.user_id.clone())
            .or_default()
            .push(order.clone());
        order
    }

    pub fn revoke(&self, jti: &str, exp: u64) {
        let mut revoked = write(&self.revoked);
        if revoked.len() >= 10_000 {
            let now = timefmt::unix_now();
            revoked.retain(|_, e| *e > now);
        }
        revoked.insert(jti.to_owned(), exp);
    }

    pub fn is_revoked(&self, jti: &str) -> bool {
        read(&self.revoked).contains_key(jti)
    }
}
