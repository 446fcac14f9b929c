//! The demo data set: fictitious customers and invoices carrying the kinds of values Warden masks.
//!
//! Card numbers are the issuers' published, Luhn-valid test numbers (Visa `4111 1111 1111 1111`,
//! Mastercard `5555-5555-5555-4444`, Visa `4012888888881881`); SSNs are well-formed US SSNs
//! (`AAA-GG-SSSS`, no 000/666/9xx area) that belong to nobody; e-mails use the reserved
//! `example.*` domains (RFC 2606).

use schemars::JsonSchema;
use serde::Serialize;

/// One customer record as returned by `search_customers`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Customer {
    /// Stable id, e.g. `cus_001`.
    pub id: &'static str,
    /// Full name.
    pub name: &'static str,
    /// Contact e-mail.
    pub email: &'static str,
    /// Card on file, formatted as the customer typed it.
    pub card_number: &'static str,
    /// US Social Security Number, `AAA-GG-SSSS`.
    pub ssn: &'static str,
}

/// One invoice as returned by `get_invoice`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Invoice {
    /// Invoice id, e.g. `inv_1001`.
    pub invoice_id: &'static str,
    /// Id of the billed customer.
    pub customer_id: &'static str,
    /// Amount in minor units (cents).
    pub amount_cents: u64,
    /// ISO 4217 currency code.
    pub currency: &'static str,
    /// E-mail the invoice was sent to.
    pub customer_email: &'static str,
    /// Card last used to pay.
    pub last_card_used: &'static str,
}

/// All customers.
pub const CUSTOMERS: &[Customer] = &[
    Customer {
        id: "cus_001",
        name: "Alice Johnson",
        email: "alice.johnson@example.com",
        card_number: "4111 1111 1111 1111",
        ssn: "123-45-6789",
    },
    Customer {
        id: "cus_002",
        name: "Bob Smith",
        email: "bob.smith@example.org",
        card_number: "5555-5555-5555-4444",
        ssn: "234-56-7890",
    },
    Customer {
        id: "cus_003",
        name: "Carol Diaz",
        email: "carol.diaz@example.net",
        card_number: "4012888888881881",
        ssn: "345-67-8901",
    },
];

/// All invoices.
pub const INVOICES: &[Invoice] = &[
    Invoice {
        invoice_id: "inv_1001",
        customer_id: "cus_001",
        amount_cents: 12_950,
        currency: "USD",
        customer_email: "alice.johnson@example.com",
        last_card_used: "4111 1111 1111 1111",
    },
    Invoice {
        invoice_id: "inv_1002",
        customer_id: "cus_002",
        amount_cents: 4_200,
        currency: "USD",
        customer_email: "bob.smith@example.org",
        last_card_used: "5555-5555-5555-4444",
    },
];

/// Customers whose id, name or e-mail contains `query`, case-insensitively; an empty query matches all.
pub fn search_customers(query: &str) -> Vec<Customer> {
    let needle = query.trim().to_lowercase();
    CUSTOMERS
        .iter()
        .filter(|c| {
            [c.id, c.name, c.email]
                .iter()
                .any(|field| field.to_lowercase().contains(&needle))
        })
        .cloned()
        .collect()
}

/// The invoice with this id, if any.
pub fn find_invoice(invoice_id: &str) -> Option<Invoice> {
    INVOICES
        .iter()
        .find(|i| i.invoice_id == invoice_id.trim())
        .cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_matches_name_case_insensitively() {
        let found = search_customers("alice");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].id, "cus_001");
    }

    #[test]
    fn empty_search_returns_every_customer() {
        assert_eq!(search_customers("").len(), CUSTOMERS.len());
    }

    #[test]
    fn unknown_invoice_is_none() {
        assert!(find_invoice("inv_9999").is_none());
        assert_eq!(
            find_invoice("inv_1002").map(|i| i.customer_id),
            Some("cus_002")
        );
    }

    fn luhn_valid(number: &str) -> bool {
        let digits: Vec<u32> = number.chars().filter_map(|c| c.to_digit(10)).collect();
        let sum: u32 = digits
            .iter()
            .rev()
            .enumerate()
            .map(|(i, &d)| {
                if i % 2 == 1 {
                    let x = d * 2;
                    if x > 9 {
                        x - 9
                    } else {
                        x
                    }
                } else {
                    d
                }
            })
            .sum();
        sum.is_multiple_of(10)
    }

    #[test]
    fn every_card_number_is_luhn_valid() {
        for c in CUSTOMERS {
            assert!(luhn_valid(c.card_number), "{}", c.card_number);
        }
        for i in INVOICES {
            assert!(luhn_valid(i.last_card_used), "{}", i.last_card_used);
        }
    }
}
