//! `template.yaml` as data: the test command decodes it with cfn-lint's own CloudFormation YAML
//! loader (`infra/test-env/template-json.sh`, intrinsic tags become `{"Ref": …}`,
//! `{"Fn::GetAtt": …}`, `{"Fn::Sub": …}`) into the JSON file `PAYOUTS_TEST_TEMPLATE_JSON` names.
//! This module reads the functions out of it and resolves their environment the way
//! CloudFormation would, against resources a test made on the AWS emulator.

use serde_json::Value;
use std::collections::BTreeMap;

pub struct Template(pub Value);

/// One `AWS::Serverless::Function`, with the globals applied.
#[derive(Clone, Debug)]
pub struct FunctionSpec {
    pub logical_id: String,
    /// `Metadata.BuildProperties.Binary`.
    pub binary: String,
    pub memory_mb: u64,
    pub timeout_seconds: u64,
    /// `Globals.Function.Environment.Variables` overlaid with the function's own, unresolved.
    pub environment: BTreeMap<String, Value>,
    /// The function's `Events` (trigger wiring), as written.
    pub events: Value,
    pub policies: Value,
}

/// What `Ref` and `Fn::GetAtt` of the template's resources are, on the emulator.
#[derive(Default)]
pub struct Resolver {
    pub stack_name: String,
    pub region: String,
    /// `Ref` of a resource (a table's name, a queue's URL, a bus's name).
    pub refs: BTreeMap<String, String>,
    /// `Fn::GetAtt` as `"Resource.Attribute"`.
    pub attributes: BTreeMap<String, String>,
    /// Parameter values; any other parameter takes its template default.
    pub parameters: BTreeMap<String, String>,
}

impl Template {
    /// The decoded template the test command wrote. Panics with instructions when it is missing:
    /// these tests must never silently skip.
    pub fn load() -> Template {
        let path = std::env::var("PAYOUTS_TEST_TEMPLATE_JSON")
            .unwrap_or_else(|_| panic!("PAYOUTS_TEST_TEMPLATE_JSON is not set: run the repo test command (infra/test.sh), which decodes template.yaml"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        Template(serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}")))
    }

    pub fn functions(&self) -> Vec<FunctionSpec> {
        let globals = &self.0["Globals"]["Function"];
        let global_env = globals["Environment"]["Variables"].as_object().cloned().unwrap_or_default();
        let resources = self.0["Resources"].as_object().cloned().unwrap_or_default();
        resources
            .into_iter()
            .filter(|(_, resource)| resource["Type"] == "AWS::Serverless::Function")
            .map(|(logical_id, resource)| {
                let properties = &resource["Properties"];
                let mut environment: BTreeMap<String, Value> = global_env.clone().into_iter().collect();
                if let Some(own) = properties["Environment"]["Variables"].as_object() {
                    environment.extend(own.clone());
                }
                FunctionSpec {
                    binary: resource["Metadata"]["BuildProperties"]["Binary"].as_str().unwrap_or_else(|| panic!("{logical_id} names no Binary")).to_owned(),
                    memory_mb: properties["MemorySize"].as_u64().or(globals["MemorySize"].as_u64()).unwrap_or(128),
                    timeout_seconds: properties["Timeout"].as_u64().or(globals["Timeout"].as_u64()).unwrap_or(3),
                    environment,
                    events: properties["Events"].clone(),
                    policies: properties["Policies"].clone(),
                    logical_id,
                }
            })
            .collect()
    }

    fn parameter_default(&self, name: &str) -> Option<String> {
        match &self.0["Parameters"][name]["Default"] {
            Value::String(text) => Some(text.clone()),
            Value::Number(number) => Some(number.to_string()),
            _ => None,
        }
    }

    /// The value CloudFormation would give `value`, or the reference it cannot resolve.
    pub fn resolve(&self, value: &Value, resolver: &Resolver) -> Result<String, String> {
        let reference = |name: &str| -> Result<String, String> {
            match name {
                "AWS::StackName" => Ok(resolver.stack_name.clone()),
                "AWS::Region" => Ok(resolver.region.clone()),
                "AWS::AccountId" => Ok("123456789012".to_owned()),
                "AWS::Partition" => Ok("aws".to_owned()),
                _ => resolver
                    .parameters
                    .get(name)
                    .cloned()
                    .or_else(|| if self.0["Parameters"].get(name).is_some() { self.parameter_default(name) } else { None })
                    .or_else(|| resolver.refs.get(name).cloned())
                    .ok_or_else(|| format!("Ref {name}")),
            }
        };
        match value {
            Value::String(text) => Ok(text.clone()),
            Value::Number(number) => Ok(number.to_string()),
            Value::Bool(flag) => Ok(flag.to_string()),
            Value::Object(object) if object.len() == 1 => {
                let (function, argument) = object.iter().next().ok_or("empty intrinsic")?;
                match (function.as_str(), argument) {
                    ("Ref", Value::String(name)) => reference(name),
                    ("Fn::GetAtt", Value::Array(parts)) => {
                        let path = parts.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(".");
                        resolver.attributes.get(&path).cloned().ok_or_else(|| format!("Fn::GetAtt {path}"))
                    }
                    ("Fn::Sub", Value::String(text)) => self.substitute(text, &serde_json::Map::new(), resolver),
                    ("Fn::Sub", Value::Array(form)) if form.len() == 2 => {
                        let text = form[0].as_str().ok_or("Fn::Sub without a string")?;
                        let variables = form[1].as_object().cloned().unwrap_or_default();
                        self.substitute(text, &variables, resolver)
                    }
                    _ => Err(format!("{function} (not resolved by the tests)")),
                }
            }
            other => Err(format!("{other} (not a scalar)")),
        }
    }

    /// `Fn::Sub`: `${Name}` from `variables` (themselves resolved), `${Resource.Attribute}`, or
    /// a reference.
    fn substitute(&self, text: &str, variables: &serde_json::Map<String, Value>, resolver: &Resolver) -> Result<String, String> {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let end = rest[start..].find('}').ok_or_else(|| format!("unclosed ${{ in {text}"))? + start;
            let name = &rest[start + 2..end];
            let resolved = if let Some(value) = variables.get(name) {
                self.resolve(value, resolver)?
            } else if name.contains('.') && !name.starts_with("AWS::") {
                resolver.attributes.get(name).cloned().ok_or_else(|| format!("Fn::Sub ${{{name}}}"))?
            } else {
                self.resolve(&serde_json::json!({ "Ref": name }), resolver)?
            };
            out.push_str(&resolved);
            rest = &rest[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }

    /// A function's environment, resolved; the first reference that cannot be resolved fails,
    /// naming the function and the variable.
    pub fn environment(&self, function: &FunctionSpec, resolver: &Resolver) -> BTreeMap<String, String> {
        function
            .environment
            .iter()
            .map(|(name, value)| {
                let resolved =
                    self.resolve(value, resolver).unwrap_or_else(|e| panic!("template.yaml {}: {name} = {value}: cannot resolve {e}", function.logical_id));
                (name.clone(), resolved)
            })
            .collect()
    }
}

/// One statement of a function's role, as `template.yaml` writes it.
#[derive(Clone, Debug)]
pub struct Grant {
    /// Where it comes from (a managed policy's logical id, a SAM policy template, `inline`).
    pub source: String,
    pub actions: Vec<String>,
    pub resources: Vec<Value>,
}

impl Grant {
    /// Whether this statement allows `action` (IAM's trailing `*` wildcard).
    pub fn allows(&self, action: &str) -> bool {
        self.actions.iter().any(|granted| match granted.strip_suffix('*') {
            Some(prefix) => action.starts_with(prefix),
            None => granted == action,
        })
    }
}

fn strings(value: &Value) -> Vec<Value> {
    match value {
        Value::Array(items) => items.clone(),
        Value::Null => Vec::new(),
        other => vec![other.clone()],
    }
}

impl Template {
    /// Everything a function's `Policies` grant: its managed policies' statements, inline
    /// statements, and the SAM policy templates it uses, expanded as SAM expands them
    /// (`EventBridgePutEventsPolicy`: `events:PutEvents` on the bus; `SQSSendMessagePolicy`:
    /// `sqs:SendMessage*` on the queue). Anything else fails: the check must understand every grant.
    pub fn grants(&self, function: &FunctionSpec) -> Vec<Grant> {
        let statements_of = |source: String, document: &Value| -> Vec<Grant> {
            strings(&document["Statement"])
                .iter()
                .map(|statement| {
                    assert_eq!(statement["Effect"], "Allow", "{source}: only Allow statements are understood");
                    Grant {
                        source: source.clone(),
                        actions: strings(&statement["Action"]).iter().map(|a| a.as_str().unwrap_or("?").to_owned()).collect(),
                        resources: strings(&statement["Resource"]),
                    }
                })
                .collect()
        };
        let mut grants = Vec::new();
        for policy in strings(&function.policies) {
            if let Some(name) = policy["Ref"].as_str() {
                let resource = &self.0["Resources"][name];
                assert_eq!(resource["Type"], "AWS::IAM::ManagedPolicy", "{}: policy {name}", function.logical_id);
                grants.extend(statements_of(name.to_owned(), &resource["Properties"]["PolicyDocument"]));
            } else if policy.get("Statement").is_some() {
                grants.extend(statements_of(format!("{} inline", function.logical_id), &policy));
            } else if let Some(template) = policy.get("EventBridgePutEventsPolicy") {
                let bus = json_sub(&format!("arn:${{AWS::Partition}}:events:${{AWS::Region}}:${{AWS::AccountId}}:event-bus/${{{}}}", "EventBusName"), template);
                grants.push(Grant { source: "EventBridgePutEventsPolicy".into(), actions: vec!["events:PutEvents".into()], resources: vec![bus] });
            } else if let Some(template) = policy.get("SQSSendMessagePolicy") {
                let queue = json_sub("arn:${AWS::Partition}:sqs:${AWS::Region}:${AWS::AccountId}:${QueueName}", template);
                grants.push(Grant { source: "SQSSendMessagePolicy".into(), actions: vec!["sqs:SendMessage*".into()], resources: vec![queue] });
            } else {
                panic!("{}: a policy the least-privilege check does not understand: {policy}", function.logical_id);
            }
        }
        grants
    }
}

/// A SAM policy template's resource: `Fn::Sub` of `pattern` with the template's parameter (its
/// value as written, often a `Ref` or `Fn::GetAtt`) in place of `${Name}`.
fn json_sub(pattern: &str, parameters: &Value) -> Value {
    let mut variables = serde_json::Map::new();
    if let Some(parameters) = parameters.as_object() {
        for (name, value) in parameters {
            variables.insert(name.clone(), value.clone());
        }
    }
    serde_json::json!({ "Fn::Sub": [pattern, variables] })
}
