//! Evaluates the expression keys of `units.json → ops` (e.g. `clip(E,0,700,clip_duration=False,
//! seconds=False)`) with our `ops`, so new cases in that form are checked without code changes.
//!
//! Grammar: `expr = term ('+' term)*`, `term = atom ('*' int)?`, `atom = NAME '(' args ')' |
//! NAME | '[' items ']' | number`, `args = (NAME '=' expr | expr) (',' …)*`. Names: the inputs
//! (`E`, `C`, `S`, any list-valued key), `SEP` (one SEPARATOR token), `REST` inside a list (one
//! REST triple). Keys written as prose instead of code are listed in [`described_input`].
//!
//! Time arguments follow the call they are passed to: a literal is in seconds when the call has
//! `seconds=True` (converted with truncation, SPEC §5) and in ticks otherwise; a nested
//! `min_time`/`max_time` yields a time that is used as is (the fixture's
//! `clip(C,5,max_time(C),…,seconds=False)` passes 2600 ticks).
#![allow(dead_code)]

use std::collections::BTreeMap;

use antiphon_tokens::events::{flatten_raw, raw_to_triples, Triple};
use antiphon_tokens::midi::{compound_to_events, CompoundNote};
use antiphon_tokens::{ops, writer, VocabSpec};
use serde_json::Value;

/// A value of the expression language.
#[derive(Clone, Debug, PartialEq)]
pub enum Val {
    /// A flat token list.
    Tokens(Vec<u32>),
    /// A pair (`split`, `anticipate`, `extract_instruments`).
    Pair(Box<Val>, Box<Val>),
    /// An integer.
    Int(i64),
    /// A float literal.
    Float(f64),
    /// A time result of `min_time`/`max_time`: ticks, and whether it was asked in seconds.
    Time(i64, bool),
    /// A boolean.
    Bool(bool),
    /// Instrument counts.
    Counts(BTreeMap<u32, usize>),
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

/// An evaluation context: the vocabulary and the named inputs.
pub struct Ctx<'a> {
    /// Vocabulary.
    pub spec: &'a VocabSpec,
    /// Named token lists (`E`, `C`, `S`, …).
    pub names: BTreeMap<String, Vec<u32>>,
}

impl<'a> Parser<'a> {
    fn peek(&mut self) -> Option<u8> {
        while self.i < self.s.len() && self.s[self.i] == b' ' {
            self.i += 1;
        }
        self.s.get(self.i).copied()
    }
    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn ident(&mut self) -> Option<String> {
        self.peek()?;
        let start = self.i;
        while self.i < self.s.len()
            && (self.s[self.i].is_ascii_alphanumeric() || self.s[self.i] == b'_')
        {
            self.i += 1;
        }
        (self.i > start && !self.s[start].is_ascii_digit())
            .then(|| String::from_utf8_lossy(&self.s[start..self.i]).into_owned())
            .or_else(|| {
                self.i = start;
                None
            })
    }
    fn number(&mut self) -> Option<Val> {
        self.peek()?;
        let start = self.i;
        if self.s[self.i] == b'-' {
            self.i += 1;
        }
        while self.i < self.s.len() && (self.s[self.i].is_ascii_digit() || self.s[self.i] == b'.') {
            self.i += 1;
        }
        let text = std::str::from_utf8(&self.s[start..self.i]).ok()?;
        if text.contains('.') {
            text.parse().ok().map(Val::Float)
        } else {
            text.parse().ok().map(Val::Int)
        }
    }
}

/// Parsed syntax.
#[derive(Clone, Debug)]
enum Ast {
    Name(String),
    Num(Val),
    List(Vec<Ast>),
    Call(String, Vec<Ast>, Vec<(String, Ast)>),
    Add(Box<Ast>, Box<Ast>),
    Repeat(Box<Ast>, i64),
}

fn parse_expr(p: &mut Parser) -> Option<Ast> {
    let mut left = parse_term(p)?;
    while p.eat(b'+') {
        let right = parse_term(p)?;
        left = Ast::Add(Box::new(left), Box::new(right));
    }
    Some(left)
}

fn parse_term(p: &mut Parser) -> Option<Ast> {
    let atom = parse_atom(p)?;
    if p.eat(b'*') {
        match p.number()? {
            Val::Int(n) => return Some(Ast::Repeat(Box::new(atom), n)),
            _ => return None,
        }
    }
    Some(atom)
}

fn parse_atom(p: &mut Parser) -> Option<Ast> {
    if p.eat(b'[') {
        let mut items = Vec::new();
        if !p.eat(b']') {
            loop {
                items.push(parse_expr(p)?);
                if p.eat(b']') {
                    break;
                }
                if !p.eat(b',') {
                    return None;
                }
            }
        }
        return Some(Ast::List(items));
    }
    if let Some(name) = p.ident() {
        if p.eat(b'(') {
            let mut args = Vec::new();
            let mut kwargs = Vec::new();
            if !p.eat(b')') {
                loop {
                    let save = p.i;
                    match p.ident() {
                        Some(k) if p.eat(b'=') => kwargs.push((k, parse_expr(p)?)),
                        _ => {
                            p.i = save;
                            args.push(parse_expr(p)?);
                        }
                    }
                    if p.eat(b')') {
                        break;
                    }
                    if !p.eat(b',') {
                        return None;
                    }
                }
            }
            return Some(Ast::Call(name, args, kwargs));
        }
        return Some(Ast::Name(name));
    }
    p.number().map(Ast::Num)
}

/// Parses a whole key; `None` if it is not code (prose keys).
fn parse(key: &str) -> Option<Ast> {
    let mut p = Parser {
        s: key.as_bytes(),
        i: 0,
    };
    let ast = parse_expr(&mut p)?;
    (p.peek().is_none()).then_some(ast)
}

/// Inputs of the keys that describe their input in words instead of code. Each is the input
/// the description names; the expected value then checks our function on it.
pub fn described_input(key: &str, ctx: &Ctx) -> Option<Val> {
    let e = ctx.names.get("E")?.clone();
    match key {
        "sort(E reversed triples)" => {
            let mut t = raw_to_triples(&e).ok()?;
            t.reverse();
            Some(Val::Tokens(flatten_raw(&ops::sort(&t))))
        }
        // An event at time 27600 (≥ CONTROL_OFFSET): the writer subtracts 27513 from it.
        "events_to_compound(time 27600 >= CONTROL_OFFSET quirk)" => {
            let t = raw_to_triples(&[27600, 10010, 11060]).ok()?;
            compound_val(writer::events_to_compound(ctx.spec, &t).ok()?)
        }
        // One record never closed (−1 → 25) and one longer than MAX_DUR (→ 999), drums.
        "compound_to_events([time,-1,note,instr,vel] unknown duration and long duration)" => {
            let c = [
                CompoundNote {
                    onset_ticks: 5,
                    duration_ticks: None,
                    pitch: 60,
                    instrument: 0,
                    velocity: 90,
                },
                CompoundNote {
                    onset_ticks: 7,
                    duration_ticks: Some(1500),
                    pitch: 61,
                    instrument: 128,
                    velocity: 90,
                },
            ];
            let mut ev = Vec::new();
            compound_to_events(ctx.spec, &c, &mut ev);
            let mut out = Vec::new();
            antiphon_tokens::encode_into(ctx.spec, &ev, &mut out).ok()?;
            Some(Val::Tokens(out.into_iter().map(|t| t.0).collect()))
        }
        _ => None,
    }
}

fn compound_val(c: Vec<CompoundNote>) -> Option<Val> {
    Some(Val::Tokens(
        c.iter()
            .flat_map(|n| {
                [
                    n.onset_ticks,
                    n.duration_ticks.unwrap_or(0),
                    n.pitch,
                    n.instrument,
                    n.velocity,
                ]
            })
            .collect(),
    ))
}

fn triples(v: &Val) -> Result<Vec<Triple>, String> {
    match v {
        Val::Tokens(t) => raw_to_triples(t).map_err(|e| e.to_string()),
        other => Err(format!("expected tokens, got {other:?}")),
    }
}

fn flag(kwargs: &[(String, Val)], name: &str, default: bool) -> Result<bool, String> {
    match kwargs.iter().find(|(k, _)| k == name) {
        None => Ok(default),
        Some((_, Val::Bool(b))) => Ok(*b),
        Some((_, v)) => Err(format!("{name}={v:?} is not a boolean")),
    }
}

fn kw<'v>(kwargs: &'v [(String, Val)], name: &str) -> Option<&'v Val> {
    kwargs.iter().find(|(k, _)| k == name).map(|(_, v)| v)
}

/// A time argument in ticks: literals in seconds when `seconds`, times as they are.
fn ticks(spec: &VocabSpec, v: &Val, seconds: bool) -> Result<i64, String> {
    match (v, seconds) {
        (Val::Time(t, _), _) => Ok(*t),
        (Val::Int(x), true) => Ok(ops::units_to_ticks(spec, *x as f64)),
        (Val::Float(x), true) => Ok(ops::units_to_ticks(spec, *x)),
        (Val::Int(x), false) => Ok(*x),
        (Val::Float(x), false) => Ok(*x as i64),
        (other, _) => Err(format!("{other:?} is not a time")),
    }
}

fn float(v: &Val) -> Result<f64, String> {
    match v {
        Val::Int(x) => Ok(*x as f64),
        Val::Float(x) => Ok(*x),
        Val::Time(t, _) => Ok(*t as f64 / 100.0),
        other => Err(format!("{other:?} is not a number")),
    }
}

fn eval(ast: &Ast, ctx: &Ctx) -> Result<Val, String> {
    let spec = ctx.spec;
    match ast {
        Ast::Num(v) => Ok(v.clone()),
        Ast::Name(n) => match n.as_str() {
            "True" => Ok(Val::Bool(true)),
            "False" => Ok(Val::Bool(false)),
            "SEP" => Ok(Val::Tokens(vec![spec.separator()])),
            other => ctx
                .names
                .get(other)
                .map(|t| Val::Tokens(t.clone()))
                .ok_or(format!("unknown name {other}")),
        },
        Ast::List(items) => {
            let mut out = Vec::new();
            for it in items {
                match it {
                    Ast::Name(n) if n == "REST" => out.extend_from_slice(&[
                        spec.time_offset(),
                        spec.duration_offset(),
                        spec.rest(),
                    ]),
                    other => match eval(other, ctx)? {
                        Val::Int(x) => out.push(u32::try_from(x).map_err(|e| e.to_string())?),
                        v => return Err(format!("list item {v:?}")),
                    },
                }
            }
            Ok(Val::Tokens(out))
        }
        Ast::Add(a, b) => match (eval(a, ctx)?, eval(b, ctx)?) {
            (Val::Tokens(mut x), Val::Tokens(y)) => {
                x.extend(y);
                Ok(Val::Tokens(x))
            }
            (x, y) => Err(format!("cannot add {x:?} and {y:?}")),
        },
        Ast::Repeat(a, n) => match eval(a, ctx)? {
            Val::Tokens(x) => Ok(Val::Tokens(x.repeat(*n as usize))),
            v => Err(format!("cannot repeat {v:?}")),
        },
        Ast::Call(f, args, kwargs) => {
            let args: Vec<Val> = args
                .iter()
                .map(|a| eval(a, ctx))
                .collect::<Result<_, _>>()?;
            let kwargs: Vec<(String, Val)> = kwargs
                .iter()
                .map(|(k, a)| eval(a, ctx).map(|v| (k.clone(), v)))
                .collect::<Result<_, _>>()?;
            call(f, &args, &kwargs, ctx)
        }
    }
}

fn tokens(t: Vec<Triple>) -> Val {
    Val::Tokens(flatten_raw(&t))
}

fn call(f: &str, args: &[Val], kwargs: &[(String, Val)], ctx: &Ctx) -> Result<Val, String> {
    let spec = ctx.spec;
    let arg = |i: usize| args.get(i).ok_or(format!("{f}: missing argument {i}"));
    let err = |e: ops::OpsError| e.to_string();
    Ok(match f {
        "clip" => {
            let seconds = flag(kwargs, "seconds", true)?;
            let clip_duration = flag(kwargs, "clip_duration", true)?;
            tokens(ops::clip(
                spec,
                &triples(arg(0)?)?,
                ticks(spec, arg(1)?, seconds)?,
                ticks(spec, arg(2)?, seconds)?,
                clip_duration,
            ))
        }
        "mask" => tokens(ops::mask(
            spec,
            &triples(arg(0)?)?,
            float(arg(1)?)?,
            float(arg(2)?)?,
        )),
        "sort" => tokens(ops::sort(&triples(arg(0)?)?)),
        "split" => {
            let (e, c) = ops::split(spec, &triples(arg(0)?)?);
            Val::Pair(Box::new(tokens(e)), Box::new(tokens(c)))
        }
        "pad" => {
            let end = kw(kwargs, "end_time")
                .or(args.get(1))
                .map(|v| ticks(spec, v, false))
                .transpose()?;
            let density = kw(kwargs, "density")
                .or(args.get(2))
                .map(|v| ticks(spec, v, false))
                .transpose()?
                .unwrap_or(spec.rest_density_ticks() as i64);
            tokens(ops::pad(spec, &triples(arg(0)?)?, end, density).map_err(err)?)
        }
        "unpad" => tokens(ops::unpad(spec, &triples(arg(0)?)?)),
        "anticipate" => {
            let delta = kw(kwargs, "delta")
                .or(args.get(2))
                .map(|v| ticks(spec, v, false))
                .transpose()?
                .unwrap_or(spec.delta_ticks() as i64);
            let a = ops::anticipate(spec, &triples(arg(0)?)?, &triples(arg(1)?)?, delta)
                .map_err(err)?;
            Val::Pair(
                Box::new(tokens(a.interleaved)),
                Box::new(tokens(a.unconsumed)),
            )
        }
        "sparsity" => Val::Int(ops::sparsity(spec, &triples(arg(0)?)?).map_err(err)?),
        "min_time" | "max_time" => {
            let seconds = flag(kwargs, "seconds", true)?;
            let instr = match kw(kwargs, "instr") {
                Some(Val::Int(i)) => Some(*i as u32),
                Some(v) => return Err(format!("instr={v:?}")),
                None => None,
            };
            let t = triples(arg(0)?)?;
            let v = if f == "min_time" {
                ops::min_time(spec, &t, instr)
            } else {
                ops::max_time(spec, &t, instr)
            };
            Val::Time(v, seconds)
        }
        "translate" => {
            let seconds = flag(kwargs, "seconds", false)?;
            tokens(
                ops::translate(spec, &triples(arg(0)?)?, ticks(spec, arg(1)?, seconds)?)
                    .map_err(err)?,
            )
        }
        "get_instruments" => Val::Counts(
            ops::get_instruments(spec, &triples(arg(0)?)?)
                .into_iter()
                .collect(),
        ),
        "combine" => tokens(ops::combine(spec, &triples(arg(0)?)?, &triples(arg(1)?)?)),
        "events_to_compound" => compound_val(
            writer::events_to_compound(spec, &triples(arg(0)?)?).map_err(|e| e.to_string())?,
        )
        .expect("compound"),
        "extract_instruments" => {
            let instrs = match arg(1)? {
                Val::Tokens(t) => t.clone(),
                v => return Err(format!("instruments {v:?}")),
            };
            let x = ops::extract_instruments(spec, &triples(arg(0)?)?, &instrs).map_err(err)?;
            Val::Pair(Box::new(tokens(x.events)), Box::new(tokens(x.controls)))
        }
        other => return Err(format!("unknown function {other}")),
    })
}

/// Evaluates a key: code keys through the parser, prose keys through [`described_input`].
pub fn evaluate(key: &str, ctx: &Ctx) -> Result<Val, String> {
    if let Some(v) = described_input(key, ctx) {
        return Ok(v);
    }
    let ast =
        parse(key).ok_or_else(|| format!("key `{key}` is neither code nor a described case"))?;
    eval(&ast, ctx)
}

/// Compares a value with the fixture's JSON.
pub fn matches(v: &Val, json: &Value) -> bool {
    match (v, json) {
        (Val::Tokens(t), Value::Array(a)) => {
            a.len() == t.len() && a.iter().zip(t).all(|(x, y)| x.as_i64() == Some(*y as i64))
        }
        (Val::Pair(x, y), Value::Array(a)) if a.len() == 2 => {
            matches(x, &a[0]) && matches(y, &a[1])
        }
        (Val::Int(x), j) => j.as_i64() == Some(*x),
        (Val::Time(t, false), j) => j.as_i64() == Some(*t),
        (Val::Time(t, true), j) => j.as_f64() == Some(*t as f64 / 100.0) && j.is_f64(),
        (Val::Counts(c), Value::Object(o)) => {
            o.len() == c.len()
                && o.iter().all(|(k, v)| {
                    k.parse::<u32>()
                        .ok()
                        .and_then(|k| c.get(&k))
                        .map(|&n| n as i64)
                        == v.as_i64()
                })
        }
        _ => false,
    }
}
