// Relative URLs on purpose: served at /apps/<agent>/habits@<version>/ the page shows that version.
const past = /@[0-9a-f]{20}\//.test(location.pathname);
document.getElementById('mode').textContent = past ? 'Viewing a past version (read-only)' : '';
if (past) document.getElementById('add').hidden = true;

async function load() {
  const res = await fetch('api/habits');
  const habits = await res.json();
  const list = document.getElementById('list');
  list.replaceChildren(
    ...habits.map((h) => {
      const li = document.createElement('li');
      li.dataset.id = h.id;
      const name = document.createElement('span');
      name.className = 'name';
      name.textContent = h.name;
      const count = document.createElement('span');
      count.className = 'count';
      count.textContent = `${h.checkins} check-ins`;
      li.append(name, count);
      if (!past) {
        const done = document.createElement('button');
        done.textContent = 'Done today';
        done.onclick = async () => {
          await fetch('api/checkin', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id: h.id }) });
          await load();
        };
        li.append(done);
      }
      return li;
    }),
  );
  document.body.dataset.loaded = String(habits.length);
}

document.getElementById('add').addEventListener('submit', async (e) => {
  e.preventDefault();
  const input = document.getElementById('name');
  await fetch('api/habits', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: input.value }) });
  input.value = '';
  await load();
});

load();
