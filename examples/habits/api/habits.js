// GET /api/habits: every habit with its number of check-ins.
// POST /api/habits {"name": "..."}: adds a habit.
export default function (req, db) {
  if (req.method === 'POST') {
    const name = String(req.json?.name ?? '').trim();
    if (!name) return { status: 400, json: { error: 'a habit needs a name' } };
    if (name.length > 100) return { status: 400, json: { error: 'name too long' } };
    db.exec('INSERT INTO habits (name) VALUES (?) ON CONFLICT(name) DO NOTHING', [name]);
    return { status: 201, json: db.query('SELECT id, name FROM habits WHERE name = ?', [name])[0] };
  }
  if (req.method !== 'GET') return { status: 405, json: { error: 'GET or POST' } };
  return {
    json: db.query(
      `SELECT h.id, h.name, count(c.day) AS checkins
         FROM habits h LEFT JOIN checkins c ON c.habit_id = h.id
        GROUP BY h.id ORDER BY h.id`,
    ),
  };
}
