//! The product catalogue: 1000 products generated from a fixed seed, so every
//! shop instance (and every load test against it) sees identical data.

use serde::Serialize;

pub const CATEGORIES: [&str; 5] = ["electronics", "clothing", "books", "sports", "home"];
pub const PRODUCT_COUNT: usize = 1000;
const MIN_CENTS: u64 = 999;
const MAX_CENTS: u64 = 199_999;

#[derive(Debug, Clone, Serialize)]
pub struct Product {
    pub id: String,
    pub name: String,
    pub description: String,
    pub price: f64,
    pub category: &'static str,
    pub stock: u32,
    pub image_url: String,
    #[serde(skip)]
    pub price_cents: i64,
    /// Lower-cased name + description, precomputed so search doesn't allocate per product.
    #[serde(skip)]
    pub haystack: String,
}

pub struct Catalog {
    products: Vec<Product>,
}

/// splitmix64: tiny, fast and stable across platforms and crate versions.
struct SplitMix(u64);
impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }
}

const ADJECTIVES: [&str; 16] = [
    "Classic",
    "Deluxe",
    "Compact",
    "Premium",
    "Eco",
    "Smart",
    "Vintage",
    "Ultra",
    "Essential",
    "Pro",
    "Lightweight",
    "Rugged",
    "Modern",
    "Cozy",
    "Sleek",
    "Handmade",
];

fn nouns(category: &str) -> &'static [&'static str] {
    match category {
        "electronics" => &[
            "Headphones",
            "Speaker",
            "Keyboard",
            "Monitor",
            "Charger",
            "Camera",
            "Smartwatch",
            "Tablet",
            "Router",
            "Microphone",
        ],
        "clothing" => &[
            "Jacket", "T-Shirt", "Sneakers", "Hoodie", "Jeans", "Scarf", "Raincoat", "Sweater",
            "Cap", "Socks",
        ],
        "books" => &[
            "Cookbook",
            "Novel",
            "Atlas",
            "Biography",
            "Field Guide",
            "Poetry Collection",
            "Textbook",
            "Comic",
            "Travel Guide",
            "Anthology",
        ],
        "sports" => &[
            "Yoga Mat",
            "Football",
            "Tennis Racket",
            "Water Bottle",
            "Dumbbell Set",
            "Bike Helmet",
            "Running Shorts",
            "Jump Rope",
            "Backpack",
            "Climbing Chalk",
        ],
        _ => &[
            "Lamp",
            "Mug",
            "Blanket",
            "Chair",
            "Vase",
            "Clock",
            "Cutting Board",
            "Pillow",
            "Plant Pot",
            "Kettle",
        ],
    }
}

const USES: [&str; 8] = [
    "everyday use",
    "weekend adventures",
    "the office",
    "gifting",
    "small spaces",
    "beginners and pros alike",
    "long-lasting comfort",
    "busy mornings",
];

impl Catalog {
    pub fn seeded() -> Self {
        let mut rng = SplitMix(0x7468_726f_6e67); // "throng"
        let products = (1..=PRODUCT_COUNT)
            .map(|n| {
                let category = rng.pick(&CATEGORIES);
                let adjective = rng.pick(&ADJECTIVES);
                let noun = rng.pick(nouns(category));
                let usage = rng.pick(&USES);
                let price_cents = (MIN_CENTS + rng.next() % (MAX_CENTS - MIN_CENTS + 1)) as i64;
                let stock = (rng.next() % 500) as u32 + 1;
                let name = format!("{adjective} {noun}");
                let description = format!(
                    "A {} {} made for {usage}. Model TH-{n:04}.",
                    adjective.to_lowercase(),
                    noun.to_lowercase()
                );
                let haystack = format!("{}\n{}", name.to_lowercase(), description.to_lowercase());
                Product {
                    id: format!("prod-{n}"),
                    name,
                    description,
                    price: cents_to_money(price_cents),
                    category,
                    stock,
                    image_url: format!("/images/prod-{n}.svg"),
                    price_cents,
                    haystack,
                }
            })
            .collect();
        Catalog { products }
    }

    pub fn all(&self) -> &[Product] {
        &self.products
    }

    /// Ids are `prod-N`, so lookup is an index, not a map probe.
    pub fn get(&self, id: &str) -> Option<&Product> {
        let n: usize = id.strip_prefix("prod-")?.parse().ok()?;
        let p = self.products.get(n.checked_sub(1)?)?;
        (p.id == id).then_some(p)
    }
}

pub fn cents_to_money(cents: i64) -> f64 {
    cents as f64 / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_in_range() {
        let a = Catalog::seeded();
        let b = Catalog::seeded();
        assert_eq!(a.all().len(), PRODUCT_COUNT);
        for (x, y) in a.all().iter().zip(b.all()) {
            assert_eq!(x.name, y.name);
            assert_eq!(x.price_cents, y.price_cents);
            assert!((999..=199_999).contains(&x.price_cents));
        }
        assert_eq!(a.get("prod-1").map(|p| p.id.as_str()), Some("prod-1"));
        assert!(a.get("prod-1000").is_some());
        assert!(a.get("prod-0").is_none());
        assert!(a.get("prod-01").is_none());
        assert!(a.get("prod-1001").is_none());
        for c in CATEGORIES {
            assert!(a.all().iter().any(|p| p.category == c));
        }
    }
}
