// A form generated from a connector's configuration JSON Schema: one field per property,
// its kind from the property's type (a choice for `enum`, a number, a switch, a list one
// per line); anything richer is edited as JSON. The server checks the configuration
// against the same schema and names the field when it does not fit.

import { h, field } from './dom.js';

/** The form's fields for `schema`, and `read()`, which gives the configuration or throws. */
export function schemaForm(schema) {
  const properties = (schema && schema.properties) || {};
  const required = new Set((schema && schema.required) || []);
  const inputs = Object.entries(properties).map(([name, property]) => input(name, property || {}, required.has(name)));
  const element = inputs.length === 0
    ? h('p', { class: 'muted' }, 'This connector needs no configuration.')
    : h('div', { class: 'stack' }, inputs.map((i) => i.element));
  return {
    element,
    read() {
      const config = {};
      for (const i of inputs) {
        const value = i.read();
        if (value !== undefined) config[i.name] = value;
      }
      return config;
    },
  };
}

function input(name, property, isRequired) {
  const label = `${name}${isRequired ? ' (required)' : ''}`;
  const help = property.description || null;
  const id = `config-${name}`;
  const common = { id, name: `config.${name}`, required: isRequired };
  if (Array.isArray(property.enum)) {
    const select = h('select', common,
      isRequired ? null : h('option', { value: '' }, '(not set)'),
      property.enum.map((v) => h('option', { value: JSON.stringify(v), selected: property.default === v }, String(v))));
    return { name, element: field(label, select, help), read: () => (select.value === '' ? undefined : JSON.parse(select.value)) };
  }
  switch (property.type) {
    case 'integer':
    case 'number': {
      const control = h('input', {
        ...common,
        type: 'number',
        step: property.type === 'integer' ? 1 : 'any',
        min: property.minimum,
        max: property.maximum,
        placeholder: property.default,
      });
      return {
        name,
        element: field(label, control, help),
        read: () => {
          if (control.value.trim() === '') return undefined;
          const n = Number(control.value);
          if (!Number.isFinite(n)) throw new Error(`${name}: must be a number`);
          return n;
        },
      };
    }
    case 'boolean': {
      const control = h('input', { ...common, type: 'checkbox', checked: property.default === true, required: false });
      return {
        name,
        element: h('label', { class: 'check' }, control, ` ${label}`, help ? h('span', { class: 'help' }, help) : null),
        read: () => (control.checked === (property.default === true) && !isRequired ? undefined : control.checked),
      };
    }
    case 'array': {
      if (property.items && property.items.type === 'string') {
        const control = h('textarea', { ...common, rows: 3, placeholder: 'one per line' });
        return {
          name,
          element: field(label, control, help),
          read: () => {
            const items = control.value.split('\n').map((s) => s.trim()).filter(Boolean);
            return items.length === 0 && !isRequired ? undefined : items;
          },
        };
      }
      return jsonInput(name, label, help, common);
    }
    case 'string': {
      const control = h('input', {
        ...common,
        type: property.format === 'uri' ? 'url' : 'text',
        minlength: property.minLength,
        maxlength: property.maxLength,
        placeholder: property.default,
        autocomplete: 'off',
      });
      return { name, element: field(label, control, help), read: () => (control.value === '' ? undefined : control.value) };
    }
    default:
      return jsonInput(name, label, help, common);
  }
}

function jsonInput(name, label, help, common) {
  const control = h('textarea', { ...common, rows: 4, placeholder: 'JSON' });
  return {
    name,
    element: field(label, control, help),
    read: () => {
      if (control.value.trim() === '') return undefined;
      try {
        return JSON.parse(control.value);
      } catch {
        throw new Error(`${name}: not valid JSON`);
      }
    },
  };
}
