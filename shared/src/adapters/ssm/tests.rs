use super::*;

#[test]
fn only_non_empty_payouts_ssm_variables_name_parameters() {
    let environment = [
        ("PAYOUTS_LIVE_BASE_RPC_URL_SSM", "/payouts/prod/live-base"),
        ("PAYOUTS_LIVE_TRON_RPC_URL_SSM", ""),
        ("OTHER_SSM", "/elsewhere"),
        ("PAYOUTS_TABLE_NAME", "payouts"),
    ]
    .map(|(k, v)| (k.to_owned(), v.to_owned()));
    assert_eq!(parameter_references(environment.into_iter()), vec![("PAYOUTS_LIVE_BASE_RPC_URL".to_owned(), "/payouts/prod/live-base".to_owned())]);
}

#[test]
fn a_parameter_read_from_ssm_wins_over_the_plain_variable() {
    let mut vars = BTreeMap::new();
    vars.insert("PAYOUTS_LIVE_BASE_RPC_URL".to_owned(), "https://public.example".to_owned());
    vars.insert("PAYOUTS_TABLE_NAME".to_owned(), "payouts".to_owned());
    let mut parameters = BTreeMap::new();
    parameters.insert("PAYOUTS_LIVE_BASE_RPC_URL".to_owned(), "https://key@private.example".to_owned());
    let merged = WithParameters { vars, parameters };
    assert_eq!(merged.get("PAYOUTS_LIVE_BASE_RPC_URL").as_deref(), Some("https://key@private.example"));
    assert_eq!(merged.get("PAYOUTS_TABLE_NAME").as_deref(), Some("payouts"));
}
