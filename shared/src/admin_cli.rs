//! `payouts-admin`: operator commands on either store (chosen like the runner's:
//! `PAYOUTS_STORE=embedded|dynamodb`, `PAYOUTS_DATA_DIR`, `PAYOUTS_TABLE_NAME`).

use crate::config::ProcessEnv;
use crate::domain::chain::Environment;
use crate::domain::ids::{ApiKeyId, OrgId};
use crate::domain::org::Plan;
use crate::domain::rate_limit::RateLimits;
use crate::domain::time::to_rfc3339;
use crate::domain::wallet::SenderPolicy;
use crate::service::admin;
use rust_decimal::Decimal;
use std::process::ExitCode;
use std::str::FromStr;

const USAGE: &str = "usage: payouts-admin <command> [options]

commands:
  create-org --name NAME --plan free|starter|growth|scale|enterprise   prints the new org_… id
  create-key --org ORG_ID --environment live|sandbox                  prints the new key once
  revoke-key KEY_ID
  list-keys --org ORG_ID                                              never prints secrets
  set-plan --org ORG_ID --plan PLAN
  set-tolerance --org ORG_ID --amount DECIMAL                         settle within ± this many token units
  set-sender-policy --org ORG_ID --environment live|sandbox registered|any
                                                                      which transfers may settle the org's payouts
  set-rate-limits --org ORG_ID --environment live|sandbox --reads N --writes N
                                                                      requests a minute (defaults: live 1800/600, sandbox 900/300)
  show-org --org ORG_ID                                               plan, tolerance, sender policies, rate limits

store: PAYOUTS_STORE=embedded (default; PAYOUTS_DATA_DIR, default ./.payouts) or dynamodb (PAYOUTS_TABLE_NAME)";

/// `--name value` pairs and bare words.
struct Args {
    words: Vec<String>,
    options: Vec<(String, String)>,
}

impl Args {
    fn parse(raw: Vec<String>) -> Result<Args, String> {
        let mut words = Vec::new();
        let mut options = Vec::new();
        let mut iter = raw.into_iter();
        while let Some(arg) = iter.next() {
            if let Some(name) = arg.strip_prefix("--") {
                let value = iter.next().ok_or_else(|| format!("--{name} needs a value"))?;
                options.push((name.to_owned(), value));
            } else {
                words.push(arg);
            }
        }
        Ok(Args { words, options })
    }

    fn option(&self, name: &str) -> Result<&str, String> {
        self.options.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str()).ok_or_else(|| format!("--{name} is required"))
    }

    fn only(&self, allowed: &[&str], words: usize) -> Result<(), String> {
        if let Some((name, _)) = self.options.iter().find(|(n, _)| !allowed.contains(&n.as_str())) {
            return Err(format!("unknown option --{name}"));
        }
        if self.words.len() != words + 1 {
            return Err(format!("{} takes {words} argument(s)", self.words.first().map(String::as_str).unwrap_or("command")));
        }
        Ok(())
    }
}

fn org_id(text: &str) -> Result<OrgId, String> {
    OrgId::parse(text).ok_or_else(|| format!("{text:?} is not an organization id (org_ + 24 hex)"))
}

fn environment(text: &str) -> Result<Environment, String> {
    Environment::parse(text).ok_or_else(|| format!("{text:?} is not an environment: live or sandbox"))
}

fn describe(policy: SenderPolicy) -> &'static str {
    match policy {
        SenderPolicy::Registered => "registered (only transfers from its verified source wallets settle its payouts)",
        SenderPolicy::Any => "any (transfers from any sender but another organization's verified wallet settle its payouts)",
    }
}

fn plan(text: &str) -> Result<Plan, String> {
    Plan::parse(text).ok_or_else(|| format!("{text:?} is not a plan: free, starter, growth, scale, enterprise"))
}

pub async fn main(raw: Vec<String>) -> ExitCode {
    match run(raw).await {
        Ok(output) => {
            println!("{output}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("payouts-admin: {message}\n\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

async fn run(raw: Vec<String>) -> Result<String, String> {
    // `--help` anywhere (`payouts-admin --help`, `payouts-admin create-key --help`) is a request
    // for the usage, not an option missing its value.
    if raw.iter().any(|arg| arg == "--help" || arg == "-h" || arg == "help") {
        return Ok(USAGE.to_owned());
    }
    let args = Args::parse(raw)?;
    let command = args.words.first().cloned().ok_or("no command given")?;
    if matches!(command.as_str(), "help" | "-h") {
        return Ok(USAGE.to_owned());
    }
    let app = crate::runtime::admin_app(&ProcessEnv).await.map_err(|e| e.to_string())?;
    let failed = |e: admin::AdminError| e.to_string();
    match command.as_str() {
        "create-org" => {
            args.only(&["name", "plan"], 0)?;
            let org = admin::create_org(&app, args.option("name")?, plan(args.option("plan")?)?).await.map_err(failed)?;
            Ok(org.id.to_string())
        }
        "create-key" => {
            args.only(&["org", "environment"], 0)?;
            let environment = environment(args.option("environment")?)?;
            let (key, secret) = admin::create_key(&app, &org_id(args.option("org")?)?, environment).await.map_err(failed)?;
            eprintln!("created {} ({}); the key is shown only now:", key.id, key.environment);
            Ok(secret.reveal().to_owned())
        }
        "revoke-key" => {
            args.only(&[], 1)?;
            let text = &args.words[1];
            let key_id = ApiKeyId::parse(text).ok_or_else(|| format!("{text:?} is not an API key id (key_ + 24 hex)"))?;
            let key = admin::revoke_key(&app, &key_id).await.map_err(failed)?;
            Ok(format!("revoked {} at {}", key.id, key.revoked_at.as_ref().map(to_rfc3339).unwrap_or_default()))
        }
        "list-keys" => {
            args.only(&["org"], 0)?;
            let keys = admin::list_keys(&app, &org_id(args.option("org")?)?).await.map_err(failed)?;
            let mut lines = vec![format!("{:<28} {:<8} {:<18} {:<11} {:<21} {}", "KEY_ID", "ENV", "HINT", "PLAN", "CREATED", "REVOKED")];
            for (key, _) in keys {
                let revoked = key.revoked_at.as_ref().map(to_rfc3339).unwrap_or_else(|| "-".into());
                lines.push(format!(
                    "{:<28} {:<8} {:<18} {:<11} {:<21} {}",
                    key.id,
                    key.environment,
                    key.hint,
                    key.plan,
                    to_rfc3339(&crate::domain::time::whole_seconds(key.created_at)),
                    revoked
                ));
            }
            Ok(lines.join("\n"))
        }
        "set-plan" => {
            args.only(&["org", "plan"], 0)?;
            let org = admin::set_plan(&app, &org_id(args.option("org")?)?, plan(args.option("plan")?)?).await.map_err(failed)?;
            Ok(format!("{} is now on plan {}", org.id, org.plan))
        }
        "set-tolerance" => {
            args.only(&["org", "amount"], 0)?;
            let text = args.option("amount")?;
            let tolerance = Decimal::from_str(text).map_err(|_| format!("{text:?} is not a decimal amount"))?;
            let org = admin::set_amount_tolerance(&app, &org_id(args.option("org")?)?, tolerance).await.map_err(failed)?;
            Ok(format!("{} settles amounts within ±{}", org.id, org.amount_tolerance))
        }
        "set-sender-policy" => {
            args.only(&["org", "environment"], 1)?;
            let environment = environment(args.option("environment")?)?;
            let text = &args.words[1];
            let policy = SenderPolicy::parse(text).ok_or_else(|| format!("{text:?} is not a sender policy: registered or any"))?;
            let org = admin::set_sender_policy(&app, &org_id(args.option("org")?)?, environment, policy).await.map_err(failed)?;
            Ok(format!("{} sender policy in {environment}: {}", org.id, describe(org.sender_policy(environment))))
        }
        "set-rate-limits" => {
            args.only(&["org", "environment", "reads", "writes"], 0)?;
            let environment = environment(args.option("environment")?)?;
            let per_minute = |name: &str| -> Result<u32, String> {
                let text = args.option(name)?;
                text.parse().map_err(|_| format!("--{name} {text:?} is not a whole number of requests a minute"))
            };
            let limits = RateLimits::new(per_minute("reads")?, per_minute("writes")?)?;
            let org = admin::set_rate_limits(&app, &org_id(args.option("org")?)?, environment, limits).await.map_err(failed)?;
            Ok(format!("{} rate limits in {environment}: {}", org.id, describe_limits(org.rate_limits(environment))))
        }
        "show-org" => {
            args.only(&["org"], 0)?;
            let (org, _) = admin::load_org(&app, &org_id(args.option("org")?)?).await.map_err(failed)?;
            let mut lines = vec![
                format!("id              {}", org.id),
                format!("name            {}", org.name),
                format!("plan            {}", org.plan),
                format!("tolerance       ±{}", org.amount_tolerance),
            ];
            for environment in Environment::ALL {
                let chosen = if org.sender_policies.contains_key(&environment) { "" } else { " (default)" };
                lines.push(format!("sender policy   {environment}: {}{chosen}", org.sender_policy(environment)));
            }
            for environment in Environment::ALL {
                let chosen = if org.rate_limits.contains_key(&environment) { "" } else { " (default)" };
                lines.push(format!("rate limits     {environment}: {}{chosen}", describe_limits(org.rate_limits(environment))));
            }
            lines.push(format!("created         {}", to_rfc3339(&crate::domain::time::whole_seconds(org.created_at))));
            Ok(lines.join("\n"))
        }
        other => Err(format!("unknown command {other:?}")),
    }
}

fn describe_limits(limits: RateLimits) -> String {
    format!("{} reads and {} writes a minute", limits.reads_per_minute, limits.writes_per_minute)
}
