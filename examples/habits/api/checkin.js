// POST /api/checkin {"id": 1, "day": "2026-11-25"}: marks a habit done on a day (today by default).
export default function (req, db) {
  if (req.method !== 'POST') return { status: 405, json: { error: 'POST' } };
  const id = Number(req.json?.id);
  const day = String(req.json?.day ?? new Date().toISOString().slice(0, 10));
  if (!Number.isInteger(id) || !/^\d{4}-\d{2}-\d{2}$/.test(day)) return { status: 400, json: { error: 'need {id, day?: YYYY-MM-DD}' } };
  if (db.query('SELECT 1 FROM habits WHERE id = ?', [id]).length === 0) return { status: 404, json: { error: `no habit ${id}` } };
  const { changes } = db.exec('INSERT INTO checkins (habit_id, day) VALUES (?, ?) ON CONFLICT DO NOTHING', [id, day]);
  return { json: { ok: true, new: changes === 1 } };
}
