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

/// One command: how it is called and what it does (its `--help`).
struct CommandHelp {
    name: &'static str,
    args: &'static str,
    about: &'static str,
}

const COMMANDS: &[CommandHelp] = &[
    CommandHelp {
        name: "create-org", args: "--name NAME --plan free|starter|growth|scale|enterprise", about: "Creates an organization; prints its org_… id."
    },
    CommandHelp { name: "list-orgs", args: "[--json]", about: "Every organization: id, name, plan, created." },
    CommandHelp {
        name: "show-org",
        args: "ORG_ID [--json]",
        about: "An organization's plan, tolerance, sender policies, rate limits and keys (never their secrets).",
    },
    CommandHelp { name: "create-key", args: "--org ORG_ID --environment live|sandbox", about: "Makes an API key and prints it once: only its hash is stored." },
    CommandHelp {
        name: "list-keys",
        args: "--org ORG_ID [--json]",
        about: "An organization's keys: id, environment, hint, plan, created, revoked. Never secrets.",
    },
    CommandHelp { name: "revoke-key", args: "KEY_ID", about: "Revokes a key: its next request is a 401." },
    CommandHelp { name: "set-plan", args: "--org ORG_ID --plan PLAN", about: "Moves an organization and all its keys to a plan." },
    CommandHelp {
        name: "set-tolerance",
        args: "--org ORG_ID --amount DECIMAL",
        about: "Settles transfers within ± this many token units of the intent's amount.",
    },
    CommandHelp {
        name: "set-sender-policy",
        args: "--org ORG_ID --environment live|sandbox registered|any",
        about: "Which transfers may settle the organization's payouts: only from its verified wallets, or from any sender but another organization's.",
    },
    CommandHelp {
        name: "set-rate-limits",
        args: "--org ORG_ID --environment live|sandbox --reads N --writes N",
        about: "Requests a minute (defaults: live 1800 reads / 600 writes, sandbox 900 / 300).",
    },
];

const STORE_NOTE: &str = "store: PAYOUTS_STORE=embedded (default; PAYOUTS_DATA_DIR, default ./.payouts) or dynamodb (PAYOUTS_TABLE_NAME)";

/// `payouts-admin --help`: every command.
fn usage() -> String {
    let width = COMMANDS.iter().map(|c| c.name.len() + 1 + c.args.len()).max().unwrap_or(0);
    let mut text = String::from("usage: payouts-admin <command> [options]   (payouts-admin <command> --help for one)\n\ncommands:\n");
    for command in COMMANDS {
        let call = format!("{} {}", command.name, command.args);
        text.push_str(&format!("  {call:<width$}   {}\n", command.about));
    }
    text.push('\n');
    text.push_str(STORE_NOTE);
    text
}

/// `payouts-admin COMMAND --help`.
fn command_usage(command: &CommandHelp) -> String {
    format!("usage: payouts-admin {} {}\n\n{}\n\n{STORE_NOTE}", command.name, command.args, command.about)
}

fn find_command(name: &str) -> Option<&'static CommandHelp> {
    COMMANDS.iter().find(|command| command.name == name)
}

/// Options that take no value.
const FLAGS: [&str; 1] = ["json"];

/// `--name value` pairs, flags and bare words.
struct Args {
    words: Vec<String>,
    options: Vec<(String, String)>,
    flags: Vec<String>,
}

impl Args {
    fn parse(raw: Vec<String>) -> Result<Args, String> {
        let mut words = Vec::new();
        let mut options = Vec::new();
        let mut flags = Vec::new();
        let mut iter = raw.into_iter();
        while let Some(arg) = iter.next() {
            if let Some(name) = arg.strip_prefix("--") {
                if FLAGS.contains(&name) {
                    flags.push(name.to_owned());
                    continue;
                }
                let value = iter.next().ok_or_else(|| format!("--{name} needs a value"))?;
                options.push((name.to_owned(), value));
            } else {
                words.push(arg);
            }
        }
        Ok(Args { words, options, flags })
    }

    fn option(&self, name: &str) -> Result<&str, String> {
        self.options.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str()).ok_or_else(|| format!("--{name} is required"))
    }

    fn flag(&self, name: &str) -> bool {
        self.flags.iter().any(|flag| flag == name)
    }

    /// Only these options (and flags), and exactly `words` arguments after the command.
    fn only(&self, allowed: &[&str], words: usize) -> Result<(), String> {
        if let Some(name) = self.options.iter().map(|(n, _)| n).chain(&self.flags).find(|n| !allowed.contains(&n.as_str())) {
            return Err(format!("unknown option --{name}"));
        }
        if self.words.len() != words + 1 {
            let given = self.words.len().saturating_sub(1);
            return Err(format!("{} takes {words} argument(s), {given} given", self.words.first().map(String::as_str).unwrap_or("command")));
        }
        Ok(())
    }
}

/// Columns padded to their widest cell, the header first.
fn table(header: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells.iter().zip(&widths).map(|(cell, width)| format!("{cell:<width$}")).collect();
        padded.join("  ").trim_end().to_owned()
    };
    let mut lines = vec![line(header.iter().map(|h| (*h).to_owned()).collect())];
    lines.extend(rows.into_iter().map(line));
    lines.join("\n")
}

fn shown_time(at: &crate::domain::time::Timestamp) -> String {
    to_rfc3339(&crate::domain::time::whole_seconds(*at))
}

fn json_text(value: serde_json::Value) -> Result<String, String> {
    serde_json::to_string_pretty(&value).map_err(|e| format!("cannot write JSON: {e}"))
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
    let command = raw.iter().find(|arg| !arg.starts_with('-')).cloned();
    match run(raw).await {
        Ok(output) => {
            println!("{output}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            // One line: what went wrong, and where the usage is.
            let hint = match command.as_deref().and_then(find_command) {
                Some(known) => format!("payouts-admin {} --help", known.name),
                None => "payouts-admin --help".to_owned(),
            };
            eprintln!("payouts-admin: {message} (see {hint})");
            ExitCode::from(2)
        }
    }
}

async fn run(raw: Vec<String>) -> Result<String, String> {
    // `--help` anywhere is a request for the usage, not an option missing its value: a known
    // command's own (`payouts-admin create-key --help`, `payouts-admin help create-key`), else
    // every command's.
    let words: Vec<&str> = raw.iter().map(String::as_str).filter(|arg| !arg.starts_with('-') && *arg != "help").collect();
    if raw.iter().any(|arg| arg == "--help" || arg == "-h" || arg == "help") || raw.is_empty() {
        return match words.first() {
            Some(name) => find_command(name).map(command_usage).ok_or_else(|| format!("unknown command {name:?}")),
            None => Ok(usage()),
        };
    }
    let args = Args::parse(raw)?;
    let command = args.words.first().cloned().ok_or("no command given")?;
    if find_command(&command).is_none() {
        return Err(format!("unknown command {command:?}"));
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
            args.only(&["org", "json"], 0)?;
            let keys = admin::list_keys(&app, &org_id(args.option("org")?)?).await.map_err(failed)?;
            let keys: Vec<_> = keys.into_iter().map(|(key, _)| key).collect();
            if args.flag("json") {
                return json_text(serde_json::Value::Array(keys.iter().map(key_json).collect()));
            }
            Ok(keys_table(&keys))
        }
        "list-orgs" => {
            args.only(&["json"], 0)?;
            let orgs = admin::list_orgs(&app).await.map_err(failed)?;
            if args.flag("json") {
                let orgs = orgs
                    .iter()
                    .map(|org| serde_json::json!({"id": org.id, "name": org.name, "plan": org.plan.as_str(), "created_at": shown_time(&org.created_at)}))
                    .collect();
                return json_text(serde_json::Value::Array(orgs));
            }
            let rows = orgs.iter().map(|org| vec![org.id.to_string(), org.name.clone(), org.plan.to_string(), shown_time(&org.created_at)]).collect();
            Ok(table(&["ORG_ID", "NAME", "PLAN", "CREATED"], rows))
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
            // ORG_ID as the argument, or `--org` as the other commands take it.
            let org_text = match (args.words.get(1), args.option("org")) {
                (Some(word), _) => {
                    args.only(&["json"], 1)?;
                    word.as_str()
                }
                (None, Ok(option)) => {
                    args.only(&["org", "json"], 0)?;
                    option
                }
                (None, Err(_)) => return Err("show-org needs the organization: payouts-admin show-org ORG_ID".to_owned()),
            };
            let (org, _) = admin::load_org(&app, &org_id(org_text)?).await.map_err(failed)?;
            let keys: Vec<_> = admin::list_keys(&app, &org.id).await.map_err(failed)?.into_iter().map(|(key, _)| key).collect();
            if args.flag("json") {
                let per_environment = |f: &dyn Fn(Environment) -> serde_json::Value| {
                    serde_json::Value::Object(Environment::ALL.into_iter().map(|environment| (environment.as_str().to_owned(), f(environment))).collect())
                };
                return json_text(serde_json::json!({
                    "id": org.id,
                    "name": org.name,
                    "plan": org.plan.as_str(),
                    "amount_tolerance": org.amount_tolerance.to_string(),
                    "sender_policies": per_environment(&|environment| serde_json::json!({
                        "policy": org.sender_policy(environment).as_str(),
                        "default": !org.sender_policies.contains_key(&environment),
                    })),
                    "rate_limits": per_environment(&|environment| {
                        let limits = org.rate_limits(environment);
                        serde_json::json!({
                            "reads_per_minute": limits.reads_per_minute,
                            "writes_per_minute": limits.writes_per_minute,
                            "default": !org.rate_limits.contains_key(&environment),
                        })
                    }),
                    "keys": keys.iter().map(key_json).collect::<Vec<_>>(),
                    "created_at": shown_time(&org.created_at),
                }));
            }
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
            lines.push(format!("created         {}", shown_time(&org.created_at)));
            lines.push(String::new());
            lines.push(if keys.is_empty() { "no keys".to_owned() } else { keys_table(&keys) });
            Ok(lines.join("\n"))
        }
        other => Err(format!("unknown command {other:?}")),
    }
}

fn describe_limits(limits: RateLimits) -> String {
    format!("{} reads and {} writes a minute", limits.reads_per_minute, limits.writes_per_minute)
}

fn keys_table(keys: &[crate::domain::org::ApiKey]) -> String {
    let rows = keys
        .iter()
        .map(|key| {
            vec![
                key.id.to_string(),
                key.environment.to_string(),
                key.hint.clone(),
                key.plan.to_string(),
                shown_time(&key.created_at),
                key.revoked_at.as_ref().map(shown_time).unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    table(&["KEY_ID", "ENV", "HINT", "PLAN", "CREATED", "REVOKED"], rows)
}

fn key_json(key: &crate::domain::org::ApiKey) -> serde_json::Value {
    serde_json::json!({
        "id": key.id,
        "environment": key.environment.as_str(),
        "hint": key.hint,
        "plan": key.plan.as_str(),
        "created_at": shown_time(&key.created_at),
        "revoked_at": key.revoked_at.as_ref().map(shown_time),
    })
}
