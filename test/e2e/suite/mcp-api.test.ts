import * as assert from 'node:assert/strict';
import { suite, test } from 'mocha';
import * as vscode from 'vscode';

suite("VS Code's MCP API", () => {
  test('lm.registerMcpServerDefinitionProvider exists', () => {
    assert.equal(typeof vscode.lm.registerMcpServerDefinitionProvider, 'function');
  });

  test('the MCP server definition classes exist', () => {
    assert.equal(typeof vscode.McpStdioServerDefinition, 'function');
    assert.equal(typeof vscode.McpHttpServerDefinition, 'function');
  });

  test('the workspace under test is the e2e workspace with its mcp.json', async () => {
    const folder = vscode.workspace.workspaceFolders?.[0];
    assert.ok(folder, 'no workspace folder is open');
    const mcpJson = await vscode.workspace.fs.readFile(vscode.Uri.joinPath(folder.uri, '.vscode', 'mcp.json'));
    assert.match(Buffer.from(mcpJson).toString('utf8'), /server-everything/);
  });
});
