//! The directory of people's rows: one `people` row per person, one `identities` row per
//! identity. A change loads the company's directory, applies a `PeopleBook` change to it and
//! writes back only the rows that differ, in one transaction that holds the company's
//! directory lock from its first statement.

use std::collections::BTreeMap;

use sqlx::Row as _;

use super::{Arg, Conditions, Store, StoreError, contains_pattern, page_size};
use crate::people::{Identity, PeopleBook, Person};

/// What a list of people is narrowed to.
#[derive(Debug, Default)]
pub struct PeopleFilter {
    /// Words in a person's name or in one of their identities.
    pub q: Option<String>,
    /// The id of the last person of the previous page.
    pub after: Option<String>,
    /// The page size.
    pub limit: Option<i64>,
}

/// An identity row as it is kept.
#[derive(Debug, PartialEq, Eq)]
struct IdentityRow {
    id: String,
    person: String,
    position: i64,
    placed_by_admin: bool,
}

/// A directory as rows: people's names by id, identities by (system, match key).
type Rows = (
    BTreeMap<String, Option<String>>,
    BTreeMap<(String, String), IdentityRow>,
);

fn rows_of(book: &PeopleBook) -> Rows {
    let mut people = BTreeMap::new();
    let mut identities = BTreeMap::new();
    for person in book.people() {
        people.insert(person.id.clone(), person.name.clone());
        for (position, identity) in person.identities.iter().enumerate() {
            identities.insert(
                (identity.system.clone(), identity.match_key().into_owned()),
                IdentityRow {
                    id: identity.id.clone(),
                    person: person.id.clone(),
                    position: i64::try_from(position).unwrap_or(i64::MAX),
                    placed_by_admin: book.placed_by_admin(identity),
                },
            );
        }
    }
    (people, identities)
}

/// Builds people from rows ordered by person and position.
fn people_of(
    people: Vec<(String, Option<String>)>,
    identities: &[sqlx::any::AnyRow],
) -> Result<(Vec<Person>, Vec<Identity>), StoreError> {
    let mut by_id: BTreeMap<String, Person> = people
        .into_iter()
        .map(|(id, name)| {
            (
                id.clone(),
                Person {
                    id,
                    name,
                    identities: Vec::new(),
                },
            )
        })
        .collect();
    let mut placed = Vec::new();
    for row in identities {
        let person: String = row.try_get("person_id")?;
        let identity = Identity {
            system: row.try_get("system")?,
            id: row.try_get("id")?,
        };
        if row.try_get::<i64, _>("placed_by_admin")? != 0 {
            placed.push(identity.clone());
        }
        if let Some(person) = by_id.get_mut(&person) {
            person.identities.push(identity);
        }
    }
    Ok((by_id.into_values().collect(), placed))
}

fn person_row(row: &sqlx::any::AnyRow) -> Result<(String, Option<String>), StoreError> {
    Ok((row.try_get("id")?, row.try_get("name")?))
}

const IDENTITY_COLUMNS: &str = "person_id, system, id, placed_by_admin";

impl Store {
    /// A company's whole directory, as a run looks people up in it.
    pub async fn people_book(&self, company: &str) -> Result<PeopleBook, StoreError> {
        let mut conn = self.pool.acquire().await?;
        load_book(&mut conn, company).await
    }

    /// Applies `change` to a company's directory and keeps the result; `None` when the
    /// company does not exist. Concurrent changes wait for each other.
    pub async fn change_people<T>(
        &self,
        company: &str,
        change: impl FnOnce(&mut PeopleBook) -> T,
    ) -> Result<Option<T>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let locked =
            sqlx::query("UPDATE companies SET people_version = people_version + 1 WHERE id = $1")
                .bind(company)
                .execute(&mut *tx)
                .await?;
        if locked.rows_affected() == 0 {
            return Ok(None);
        }
        let before = load_book(&mut tx, company).await?;
        let mut after = before.clone();
        let answer = change(&mut after);
        if after != before {
            write_changes(&mut tx, company, &rows_of(&before), &rows_of(&after)).await?;
        }
        tx.commit().await?;
        Ok(Some(answer))
    }

    /// A page of a company's people by id, with their identities.
    pub async fn people(
        &self,
        company: &str,
        filter: &PeopleFilter,
    ) -> Result<Vec<Person>, StoreError> {
        let mut conditions = Conditions::default();
        conditions.push("p.company_id = ?", Arg::Text(company.to_owned()));
        conditions.push(
            "p.id > ?",
            Arg::Text(filter.after.clone().unwrap_or_default()),
        );
        if let Some(q) = &filter.q {
            // One placeholder used twice: both databases allow it.
            conditions.push(
                "(LOWER(COALESCE(p.name, '')) LIKE ? ESCAPE '\\' OR EXISTS (SELECT 1 FROM \
                 identities i WHERE i.company_id = p.company_id AND i.person_id = p.id \
                 AND LOWER(i.id) LIKE ? ESCAPE '\\'))",
                Arg::Text(contains_pattern(q)),
            );
        }
        let sql = format!(
            "SELECT p.id, p.name FROM people p {} ORDER BY p.id LIMIT {}",
            conditions.sql(),
            conditions.next_placeholder()
        );
        let rows = conditions
            .bind(sqlx::query(&sql))
            .bind(page_size(filter.limit))
            .fetch_all(&self.pool)
            .await?;
        let people = rows.iter().map(person_row).collect::<Result<Vec<_>, _>>()?;
        let (Some(first), Some(last)) = (people.first(), people.last()) else {
            return Ok(Vec::new());
        };
        let identities = sqlx::query(&format!(
            "SELECT {IDENTITY_COLUMNS} FROM identities \
             WHERE company_id = $1 AND person_id >= $2 AND person_id <= $3 \
             ORDER BY person_id, position"
        ))
        .bind(company)
        .bind(&first.0)
        .bind(&last.0)
        .fetch_all(&self.pool)
        .await?;
        Ok(people_of(people, &identities)?.0)
    }

    /// One person of a company's directory.
    pub async fn person(&self, company: &str, id: &str) -> Result<Option<Person>, StoreError> {
        let Some(row) =
            sqlx::query("SELECT id, name FROM people WHERE company_id = $1 AND id = $2")
                .bind(company)
                .bind(id)
                .fetch_optional(&self.pool)
                .await?
        else {
            return Ok(None);
        };
        let identities = sqlx::query(&format!(
            "SELECT {IDENTITY_COLUMNS} FROM identities \
             WHERE company_id = $1 AND person_id = $2 ORDER BY position"
        ))
        .bind(company)
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        Ok(people_of(vec![person_row(&row)?], &identities)?.0.pop())
    }
}

async fn load_book(
    conn: &mut sqlx::AnyConnection,
    company: &str,
) -> Result<PeopleBook, StoreError> {
    let people = sqlx::query("SELECT id, name FROM people WHERE company_id = $1 ORDER BY id")
        .bind(company)
        .fetch_all(&mut *conn)
        .await?;
    let identities = sqlx::query(&format!(
        "SELECT {IDENTITY_COLUMNS} FROM identities WHERE company_id = $1 \
         ORDER BY person_id, position"
    ))
    .bind(company)
    .fetch_all(&mut *conn)
    .await?;
    let people = people.iter().map(person_row).collect::<Result<_, _>>()?;
    let (people, placed) = people_of(people, &identities)?;
    Ok(PeopleBook::from_parts(people, placed))
}

/// Writes the rows that differ between two directories: new people first, so identities
/// can point at them, and people gone last, once no identity points at them.
async fn write_changes(
    conn: &mut sqlx::AnyConnection,
    company: &str,
    (people_before, identities_before): &Rows,
    (people_after, identities_after): &Rows,
) -> Result<(), StoreError> {
    for (id, name) in people_after {
        if people_before.get(id) == Some(name) {
            continue;
        }
        sqlx::query(
            "INSERT INTO people (company_id, id, name) VALUES ($1, $2, $3) \
             ON CONFLICT (company_id, id) DO UPDATE SET name = excluded.name",
        )
        .bind(company)
        .bind(id)
        .bind(name.as_deref())
        .execute(&mut *conn)
        .await?;
    }
    for ((system, key), row) in identities_after {
        if identities_before.get(&(system.clone(), key.clone())) == Some(row) {
            continue;
        }
        sqlx::query(
            "INSERT INTO identities \
             (company_id, system, match_key, id, person_id, position, placed_by_admin) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (company_id, system, match_key) DO UPDATE SET id = excluded.id, \
             person_id = excluded.person_id, position = excluded.position, \
             placed_by_admin = excluded.placed_by_admin",
        )
        .bind(company)
        .bind(system)
        .bind(key)
        .bind(&row.id)
        .bind(&row.person)
        .bind(row.position)
        .bind(i64::from(row.placed_by_admin))
        .execute(&mut *conn)
        .await?;
    }
    for (system, key) in identities_before.keys() {
        if identities_after.contains_key(&(system.clone(), key.clone())) {
            continue;
        }
        sqlx::query(
            "DELETE FROM identities WHERE company_id = $1 AND system = $2 AND match_key = $3",
        )
        .bind(company)
        .bind(system)
        .bind(key)
        .execute(&mut *conn)
        .await?;
    }
    for id in people_before.keys() {
        if people_after.contains_key(id) {
            continue;
        }
        sqlx::query("DELETE FROM people WHERE company_id = $1 AND id = $2")
            .bind(company)
            .bind(id)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}
